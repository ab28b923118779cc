"""The floor app of `bench.floor` carries the portal's CSRF and gzip settings when asked:
otherwise its figure would be a floor under nothing."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from bench.floor import create_app


def _pages(tmp_path: Path) -> Path:
    (tmp_path / "cabinet.html").write_text("<p>cabinet</p>" * 100)
    (tmp_path / "partial.html").write_text("")
    return tmp_path


def test_with_middleware_the_page_is_gzipped_and_a_post_needs_the_csrf_token(
    tmp_path: Path,
) -> None:
    with TestClient(create_app(middleware=True, pages=_pages(tmp_path))) as client:
        page = client.get("/cabinet", headers={"Accept-Encoding": "gzip"})
        assert page.headers["content-encoding"] == "gzip"
        assert page.text == "<p>cabinet</p>" * 100
        token = page.cookies["csrftoken"]
        assert client.post("/check", content="v=1").status_code == 403
        answer = client.post("/check", content="v=1", headers={"x-csrftoken": token})
        assert (answer.status_code, answer.text) == (200, "")


def test_bare_the_answers_come_as_they_are(tmp_path: Path) -> None:
    with TestClient(create_app(middleware=False, pages=_pages(tmp_path))) as client:
        page = client.get("/cabinet", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in page.headers
        assert "csrftoken" not in page.cookies
        assert client.post("/check", content="v=1").status_code == 200
