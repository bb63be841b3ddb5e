"""Write a map page (atomically), optionally self-contained for offline publishing."""

from __future__ import annotations

import os
from pathlib import Path

from ..io.atomic import atomic_path
from .assets import localize_html


def render_html(m) -> str:
    """The complete HTML page of a folium Map or DualMap."""
    return m.get_root().render()


def write_map(m, out: str | Path, offline: bool = False, assets_root=None, texts=None,
              page: str | None = None) -> dict:
    """Write ``m`` to ``out`` (HTML). With ``offline``, copy its JS/CSS beside it (``<stem>_assets/``).
    With ``texts`` (:class:`~floodsim.scenario.site.PublishTexts`), the page is finished by
    :func:`floodsim.maps.pagestyle.finish_page` (``lang``, ``<title>`` — ``page`` before the site
    title —, viewport, page CSS).

    Returns
    -------
    dict
        ``{"html": Path, "assets_dir": Path or None, "assets": [relative paths]}``.

    Raises
    ------
    InputDataError
        ``offline`` and the npm asset cache is incomplete (the message names ``floodsim map-assets``).
    OutputError
        The page cannot be written, or it references a CDN file that has no npm mapping.
    """
    out = Path(out)
    html = render_html(m)
    info = {"html": out, "assets_dir": None, "assets": []}
    if offline:
        html, loc = localize_html(html, out, assets_root)
        info.update(assets_dir=loc["assets_dir"], assets=loc["files"])
    if texts is not None:
        from .pagestyle import finish_page

        html = finish_page(html, texts, page)
    with atomic_path(out) as tmp:
        tmp.write_text(html, encoding="utf-8")
        os.chmod(tmp, 0o644)  # a page to publish: readable by a web server
    return info
