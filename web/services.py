"""The names of the services utilities bill and meter, in the user's language.

One table for every page (readings, statements, visit requests), so a service is called
the same everywhere and translators see each name once.
"""

from __future__ import annotations

from web.i18n import N_, Translator

SERVICE_NAMES = {
    "cold_water": N_("Cold water"),
    "hot_water": N_("Hot water"),
    "sewerage": N_("Sewerage"),
    "gas": N_("Gas"),
    "heat": N_("Heating"),
    "electricity": N_("Electricity"),
    "broadband": N_("Broadband"),
    "benefit": N_("Benefit"),
    "subsidy": N_("Subsidy"),
}


def service_name(translate: Translator, code: str, unknown: str | None = None) -> str:
    """The service's name; an unknown code shows as `unknown` (translated) or as itself."""
    if code in SERVICE_NAMES:
        return translate.gettext(SERVICE_NAMES[code])
    return translate.gettext(unknown) if unknown else code
