"""Web assets for offline maps: which npm release serves each CDN file that folium's pages load.

A folium page loads Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers and the plugins' JS/CSS from
public CDNs. An offline (``--offline``) page must fetch nothing from a third party when a resident opens it,
so the same files are taken from the **npm registry's releases**, installed once at build time into a
cache folder, and copied beside the HTML:

* ``floodsim map-assets`` (:func:`fetch_assets`) runs ``npm pack NAME@VERSION`` for every package in
  :data:`CDN_FILES` and unpacks it into the cache folder: ``$FLOODSIM_ASSETS`` if set, else
  ``~/.cache/floodsim/web-assets``. The releases are pinned to the versions folium's URLs name.
* :func:`localize_html` (used by ``floodsim map --offline``) copies each file the page references into
  ``<page>_assets/`` and rewrites the ``<script src>`` / ``<link href>`` tags, and the ``url(...)``
  references inside the copied CSS, to relative paths. A page URL missing from the table is an error, so
  a folium upgrade that adds an asset cannot silently publish a page that reaches a CDN.

Nothing here is committed to the repository, and nothing is fetched from a CDN.

Where folium references something that no npm release carries, the table says what is used instead:

* ``bootstrap-glyphicons.css`` (netdna, Bootstrap 3.0.0) is **dropped**: it only styles ``glyphicon-*``
  marker icons, which floodsim maps do not use;
* ``leaflet.awesome.rotate.min.css`` (folium's GitHub) is **dropped**: it only rotates awesome-marker
  icons, which floodsim maps do not use;
* jQuery UI 1.10.2 (for TimestampedGeoJson) is not on npm; ``jquery-ui-dist@1.12.1`` serves it;
* the Glyphicons Halflings font that ``leaflet.timedimension.control.css`` loads from netdna (Bootstrap
  3.0.0) comes from ``bootstrap@3.1.1`` (the oldest Bootstrap 3 release on npm; same glyphs);
* ``Leaflet.Sync`` (DualMap, an unversioned GitHub URL) comes from ``leaflet.sync@0.2.4``;
* ``iso8601.min.js`` is the unminified ``iso8601.js`` of the same release (0.2.1 ships no minified file);
* ``leaflet-side-by-side.min.js`` (``folium.plugins.SideBySideLayers``, digidem's GitHub build of 2.0.0)
  is built at fetch time from the npm release ``leaflet-side-by-side@2.0.0`` as its own ``npm run build``
  does (browserify + cssify): ``index.js`` with ``require('leaflet')`` bound to the page's ``L`` and its two
  CSS files injected as a ``<style>`` element, the thumb icon as a data URI (:func:`_build_side_by_side`).

Test assets: ``axe-core`` (:data:`TEST_RELEASES`, pinned) is fetched into the same cache by
``floodsim map-assets`` for the accessibility checks of the browser tests (:func:`axe_script`); no page
references it and it is never copied into a site.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import InputDataError, OutputError

ENV_VAR = "FLOODSIM_ASSETS"
FETCH_COMMAND = "floodsim map-assets"


@dataclass(frozen=True)
class NpmFile:
    """One file of an npm release, plus the files its CSS references (``extra``: glob patterns)."""

    package: str
    version: str
    path: str
    extra: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def folder(self) -> str:
        """Folder name of the release in the cache and in ``<page>_assets`` (``/`` of a scope → ``+``)."""
        return f"{self.package.replace('/', '+')}@{self.version}"


_LEAFLET = ("leaflet", "1.9.3")
_FA = ("@fortawesome/fontawesome-free", "6.2.0")
_TD = ("leaflet-timedimension", "1.1.1")
_BS3 = ("bootstrap", "3.1.1")

#: CDN URL (without scheme) → npm file, or None when the page does not need it (see module docstring).
CDN_FILES: dict[str, NpmFile | None] = {
    # folium.Map
    "cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": NpmFile(*_LEAFLET, "dist/leaflet.js"),
    "cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": NpmFile(
        *_LEAFLET, "dist/leaflet.css", ("dist/images/*",)
    ),
    "code.jquery.com/jquery-3.7.1.min.js": NpmFile("jquery", "3.7.1", "dist/jquery.min.js"),
    "cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": NpmFile(
        "bootstrap", "5.2.2", "dist/js/bootstrap.bundle.min.js"
    ),
    "cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": NpmFile(
        "bootstrap", "5.2.2", "dist/css/bootstrap.min.css"
    ),
    "cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": NpmFile(
        "drmonty-leaflet-awesome-markers", "2.0.2", "js/leaflet.awesome-markers.js"
    ),
    "cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": NpmFile(
        "drmonty-leaflet-awesome-markers", "2.0.2", "css/leaflet.awesome-markers.css", ("css/images/*",)
    ),
    "netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": None,
    "cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": NpmFile(
        *_FA, "css/all.min.css", ("webfonts/*",)
    ),
    "cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css": None,
    # branca colormap legends
    "cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": NpmFile("d3", "3.5.5", "d3.min.js"),
    # plugins.Search
    "cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.js": NpmFile(
        "leaflet-search", "2.9.7", "dist/leaflet-search.min.js"
    ),
    "cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.css": NpmFile(
        "leaflet-search", "2.9.7", "dist/leaflet-search.min.css", ("images/*",)
    ),
    # plugins.DualMap
    "cdn.jsdelivr.net/gh/jieter/Leaflet.Sync/L.Map.Sync.min.js": NpmFile(
        "leaflet.sync", "0.2.4", "L.Map.Sync.js"
    ),
    # plugins.TimestampedGeoJson
    "cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js": NpmFile(
        "jquery", "3.7.1", "dist/jquery.min.js"
    ),
    "cdnjs.cloudflare.com/ajax/libs/jqueryui/1.10.2/jquery-ui.min.js": NpmFile(
        "jquery-ui-dist", "1.12.1", "jquery-ui.min.js"
    ),
    "cdn.jsdelivr.net/npm/iso8601-js-period@0.2.1/iso8601.min.js": NpmFile(
        "iso8601-js-period", "0.2.1", "iso8601.js"
    ),
    "cdn.jsdelivr.net/npm/leaflet-timedimension@1.1.1/dist/leaflet.timedimension.min.js": NpmFile(
        *_TD, "dist/leaflet.timedimension.min.js"
    ),
    "cdn.jsdelivr.net/npm/leaflet-timedimension@1.1.1/dist/leaflet.timedimension.control.css": NpmFile(
        *_TD, "dist/leaflet.timedimension.control.css"
    ),
    "cdnjs.cloudflare.com/ajax/libs/moment.js/2.18.1/moment.min.js": NpmFile(
        "moment", "2.18.1", "min/moment.min.js"
    ),
    "cdnjs.cloudflare.com/ajax/libs/highlight.js/8.4/styles/default.min.css": NpmFile(
        "highlight.js", "8.4.0", "styles/default.css"
    ),
    # fonts referenced by url(...) inside leaflet.timedimension.control.css
    "netdna.bootstrapcdn.com/bootstrap/3.0.0/fonts/glyphicons-halflings-regular.eot": NpmFile(
        *_BS3, "dist/fonts/glyphicons-halflings-regular.eot"
    ),
    "netdna.bootstrapcdn.com/bootstrap/3.0.0/fonts/glyphicons-halflings-regular.woff": NpmFile(
        *_BS3, "dist/fonts/glyphicons-halflings-regular.woff"
    ),
    "netdna.bootstrapcdn.com/bootstrap/3.0.0/fonts/glyphicons-halflings-regular.ttf": NpmFile(
        *_BS3, "dist/fonts/glyphicons-halflings-regular.ttf"
    ),
    "netdna.bootstrapcdn.com/bootstrap/3.0.0/fonts/glyphicons-halflings-regular.svg": NpmFile(
        *_BS3, "dist/fonts/glyphicons-halflings-regular.svg"
    ),
    # plugins.SideBySideLayers (the file is built at fetch time: see _build_side_by_side)
    "cdn.jsdelivr.net/gh/digidem/leaflet-side-by-side@2.0.0/leaflet-side-by-side.min.js": NpmFile(
        "leaflet-side-by-side", "2.0.0", "leaflet-side-by-side.min.js"
    ),
}

#: npm releases fetched for the tests only (never referenced by a page, never copied into a site).
TEST_RELEASES: tuple[tuple[str, str], ...] = (("axe-core", "4.10.3"),)
#: The axe-core script inside its release folder.
AXE_FILE = "axe.min.js"


def _build_side_by_side(folder: Path) -> None:
    """Write ``leaflet-side-by-side.min.js`` into the unpacked npm release ``folder``.

    The release ships the CommonJS source (``index.js`` requiring ``leaflet`` and two CSS files) and the
    build script that digidem's GitHub file comes from (browserify with ``cssify`` and
    ``css-img-datauri-stream``). The same result without a bundler: the source in a function scope whose
    ``require('leaflet')`` is the page's global ``L``, and the CSS (``range-icon.png`` as a data URI)
    added to ``<head>`` as a ``<style>`` element when the script runs.
    """
    import base64

    from .safe import js_json

    icon = base64.b64encode((folder / "range-icon.png").read_bytes()).decode("ascii")
    css = "\n".join((folder / name).read_text(encoding="utf-8") for name in ("layout.css", "range.css"))
    css = re.sub(r"url\(\s*['\"]?range-icon\.png['\"]?\s*\)", f"url(data:image/png;base64,{icon})", css)
    source = (folder / "index.js").read_text(encoding="utf-8")
    bundle = (
        "/* leaflet-side-by-side 2.0.0 (npm release; MIT, Gregor MacLennan / Digital Democracy), "
        "bundled by floodsim.maps.assets */\n"
        "(function () {\n"
        f"var css = {js_json(css)};\n"
        "var style = document.createElement('style'); style.textContent = css;\n"
        "(document.head || document.documentElement).appendChild(style);\n"
        "var module = { exports: {} };\n"
        "var require = function (name) { return name === 'leaflet' ? window.L : {}; };\n"
        f"{source}\n"
        "})();\n"
    )
    (folder / "leaflet-side-by-side.min.js").write_text(bundle, encoding="utf-8")


#: Files made from an unpacked release before it is marked complete: (package, version) -> builder(folder).
_BUILDS = {("leaflet-side-by-side", "2.0.0"): _build_side_by_side}


def releases() -> list[tuple[str, str]]:
    """Every pinned npm release ``(package, version)`` that :data:`CDN_FILES` uses, sorted."""
    return sorted({(f.package, f.version) for f in CDN_FILES.values() if f is not None})


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The asset cache: ``path``, else ``$FLOODSIM_ASSETS``, else ``~/.cache/floodsim/web-assets``."""
    if path is not None:
        return Path(path)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path.home() / ".cache" / "floodsim" / "web-assets"


def _release_dir(root: Path, package: str, version: str) -> Path:
    return root / f"{package.replace('/', '+')}@{version}"


def missing_releases(root: str | os.PathLike | None = None, tests: bool = False) -> list[str]:
    """``NAME@VERSION`` of every page release (with ``tests``, also :data:`TEST_RELEASES`) not yet
    unpacked in the cache (empty when complete)."""
    root = cache_dir(root)
    wanted = releases() + (sorted(TEST_RELEASES) if tests else [])
    return [f"{p}@{v}" for p, v in wanted if not (_release_dir(root, p, v) / ".complete").exists()]


def axe_script(root: str | os.PathLike | None = None) -> Path:
    """The axe-core script (``axe.min.js`` of :data:`TEST_RELEASES`) in the asset cache.

    Raises
    ------
    InputDataError
        It has not been fetched (the message names ``floodsim map-assets``).
    """
    package, version = TEST_RELEASES[0]
    path = _release_dir(cache_dir(root), package, version) / AXE_FILE
    if not path.is_file():
        raise InputDataError(
            f"{path}: axe-core is not in the asset cache; run `{FETCH_COMMAND}` (it fetches "
            f"{package}@{version} from npm), or set {ENV_VAR} to the folder that has it."
        )
    return path


def fetch_assets(root: str | os.PathLike | None = None, npm: str = "npm", log=None) -> Path:
    """Fetch every pinned release with ``npm pack`` and unpack it into the cache (idempotent).

    Parameters
    ----------
    root : path, optional
        Cache folder (default: :func:`cache_dir`).
    npm : str
        The npm executable.
    log : callable, optional
        ``log(message)`` per release fetched.

    Returns
    -------
    Path
        The cache folder.
    """
    root = cache_dir(root)
    exe = shutil.which(npm)
    if exe is None:
        raise InputDataError(
            f"'{npm}' not found: install Node.js with npm (e.g. apt-get install npm) to fetch "
            f"the offline map assets, or set {ENV_VAR} to a folder that has them."
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{root}: cannot create the asset cache ({exc.strerror}); set {ENV_VAR} to a writable folder."
        ) from None
    for package, version in releases() + sorted(TEST_RELEASES):
        final = _release_dir(root, package, version)
        if (final / ".complete").exists():
            continue
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as tmp:
            tmp = Path(tmp)
            proc = subprocess.run(
                [exe, "pack", f"{package}@{version}", "--silent", "--pack-destination", str(tmp)],
                capture_output=True,
                text=True,
                cwd=tmp,
                check=False,
            )
            if proc.returncode != 0:
                msg = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
                raise InputDataError(
                    f"npm pack {package}@{version} failed: {msg}. Check that the npm "
                    "registry is reachable and run the command again."
                )
            tarball = next(tmp.glob("*.tgz"))
            unpacked = tmp / "unpacked"
            with tarfile.open(tarball) as tar:
                try:
                    tar.extractall(unpacked, filter="data")  # refuses paths outside the folder
                except TypeError:  # Python < 3.11.4: no extraction filters
                    tar.extractall(unpacked)
            src = next(p for p in unpacked.iterdir() if p.is_dir())  # "package/" (a few releases differ)
            build = _BUILDS.get((package, version))
            if build is not None:
                build(src)
            (src / ".complete").write_text(f"{package}@{version}\n")
            if final.exists():
                shutil.rmtree(final)
            os.replace(src, final)
        if log is not None:
            log(f"fetched {package}@{version}")
    return root


# ----------------------------------------------------------------------------------------------------------
# Rewriting a page to use local copies

_TAG_RE = re.compile(
    r"""<(script|link)\b[^>]*?\b(src|href)=["']((?:https?:)?//[^"']+)["'][^>]*>(?:\s*</script>)?""",
    re.IGNORECASE,
)
_CSS_URL_RE = re.compile(r"""url\(\s*(['"]?)((?:https?:)?//[^'")]+?)\1\s*\)""", re.IGNORECASE)
_EXTERNAL_RE = re.compile(r"""(?:src|href)=["'](?:https?:)?//""", re.IGNORECASE)


def _key(url: str) -> str:
    return re.sub(r"^(?:https?:)?//", "", url).split("#")[0].split("?")[0]


def _lookup(url: str, page: str) -> NpmFile | None:
    try:
        return CDN_FILES[_key(url)]
    except KeyError:
        raise OutputError(
            f"{page}: the page loads {url}, which floodsim.maps.assets.CDN_FILES does not map to "
            "an npm release; add it there (this folium version is newer than the table)."
        ) from None


def localize_html(html: str, page_path: Path, root: str | os.PathLike | None = None,
                  assets_name: str | None = None) -> tuple[str, dict]:
    """Copy the page's CDN assets from the npm cache into ``<page>_assets/``; return the rewritten page.

    Parameters
    ----------
    html : str
        The rendered folium page.
    page_path : Path
        Where the page will be written; the assets go to ``page_path.stem + "_assets"`` beside it.
    root : path, optional
        The asset cache (default: :func:`cache_dir`).
    assets_name : str, optional
        A folder beside the page shared by several pages (e.g. ``"assets"`` of a published site, which
        is itself written into a staging folder): files are added to it, nothing in it is removed.

    Returns
    -------
    (str, dict)
        The page with local references, and ``{"assets_dir": Path, "files": [relative paths]}``.
    """
    root = cache_dir(root)
    missing = missing_releases(root)
    if missing:
        raise InputDataError(
            f"offline map assets missing in {root} ({', '.join(missing[:3])}"
            f"{', …' if len(missing) > 3 else ''}); run `{FETCH_COMMAND}` first (it uses npm), "
            f"or set {ENV_VAR} to the folder that has them."
        )
    page_path = Path(page_path)
    shared = assets_name is not None
    assets_name = assets_name if shared else f"{page_path.stem}_assets"
    final_dir = page_path.parent / assets_name
    try:
        page_path.parent.mkdir(parents=True, exist_ok=True)
        if shared:
            final_dir.mkdir(exist_ok=True)
            staging = final_dir
        else:
            staging = Path(tempfile.mkdtemp(prefix=f".{assets_name}.", suffix=".part", dir=page_path.parent))
    except OSError as exc:
        raise OutputError(
            f"cannot write to {page_path.parent}: {exc.strerror}. Choose a writable --out."
        ) from None
    copied: set[str] = set()

    def copy(f: NpmFile, rel_path: str) -> None:
        rel = PurePosixPath(f.folder) / rel_path
        if str(rel) in copied:
            return
        src = _release_dir(root, f.package, f.version) / rel_path
        if not src.is_file():
            raise InputDataError(
                f"{src}: file missing from the asset cache; delete "
                f"{_release_dir(root, f.package, f.version)} and run `{FETCH_COMMAND}` again."
            )
        dst = staging / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".css":
            dst.write_text(
                _localize_css(src.read_text(encoding="utf-8"), rel, copy, page_path.name), encoding="utf-8"
            )
        else:
            shutil.copyfile(src, dst)
        copied.add(str(rel))

    def replace(match: re.Match) -> str:
        tag, url = match.group(0), match.group(3)
        f = _lookup(url, page_path.name)
        if f is None:
            return ""
        copy(f, f.path)
        for pattern in f.extra:
            for extra in sorted(_release_dir(root, f.package, f.version).glob(pattern)):
                if extra.is_file():
                    copy(f, extra.relative_to(_release_dir(root, f.package, f.version)).as_posix())
        return tag.replace(url, f"{assets_name}/{f.folder}/{f.path}")

    try:
        out = _TAG_RE.sub(replace, html)
        left = _EXTERNAL_RE.search(out)
        if left:
            raise OutputError(
                f"{page_path.name}: an external reference is left after localising "
                f"({out[left.start() : left.start() + 80]!r}); add it to floodsim.maps.assets.CDN_FILES."
            )
        for d in (staging, *[p for p in staging.rglob("*") if p.is_dir()]):
            os.chmod(d, 0o755)  # mkdtemp makes 0700; a published folder must be readable
        if not shared:
            if final_dir.exists():
                shutil.rmtree(final_dir)
            os.replace(staging, final_dir)
    finally:
        if not shared and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out, {"assets_dir": final_dir, "files": sorted(copied)}


def _localize_css(css: str, rel: PurePosixPath, copy, page: str) -> str:
    """Point absolute ``url(//host/...)`` references of a CSS file at local copies (relative to it)."""

    def sub(match: re.Match) -> str:
        url = match.group(2)
        f = _lookup(url, page)
        if f is None:
            return "url(data:,)"
        copy(f, f.path)
        target = PurePosixPath(f.folder) / f.path
        up = "../" * (len(rel.parts) - 1)
        suffix = url[len(url.split("#")[0].split("?")[0]) :]
        return f"url('{up}{target}{suffix}')"

    return _CSS_URL_RE.sub(sub, css)

