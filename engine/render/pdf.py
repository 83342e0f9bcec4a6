"""Scorecard PDFs: ``out/pdf/agents/<agent_id>.pdf`` and ``out/pdf/teams/<team>.pdf``.

Contexts (the data of each PDF) are built once in the main process
(:mod:`merit.render.context`); the HTML → PDF work runs in worker processes,
one per core (or ``MERIT_RENDER_WORKERS``).  Workers never outlive their run: on Linux each asks the kernel
to kill it when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and each checks
its parent is still the run before writing a PDF; when the run stops on an
error or a signal (SIGTERM is turned into an exception by merit.usecases) the
workers are terminated before the staging folder is removed.  Templates are jinja2 with autoescape on, loaded from the
installed ``templates`` package.  WeasyPrint fetches through
:class:`AssetFetcher`, which serves the bundled ``templates/assets`` files and
refuses everything else (other files, http(s), data: URLs).

Determinism: the PDF's dates are the cycle's end (``dcterms.created``), not
the clock, and nothing random reaches the document: the same inputs give
byte-identical PDFs.  Skip-unchanged: each PDF's inputs (its context, the
templates, the renderer's code and versions) are hashed into
``out/pdf/manifest.json``; a PDF whose hash matches the previous run is copied
from the previous ``out/pdf`` instead of being rendered again.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import re
import shutil
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlsplit
from urllib.request import url2pathname

from merit import __version__
from merit.core.files import write_atomic
from merit.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalogue_path, check_language, translator

Progress = Callable[..., None]
MANIFEST = "manifest.json"
AGENT_TEMPLATE = "agent.html"
TEAM_TEMPLATE = "team.html"
STYLESHEET = "base.css"


# ------------------------------------------------------------------ templates and assets
def templates_dir() -> Path:
    """The installed ``templates`` package folder (works for non-editable installs)."""
    return Path(str(resources.files("merit.templates")))


def assets_dir() -> Path:
    return templates_dir() / "assets"


@lru_cache(maxsize=1)
def renderer_fingerprint() -> str:
    """Hash of everything besides the context that shapes a PDF."""
    import weasyprint

    digest = hashlib.sha256()
    digest.update(f"merit {__version__}; weasyprint {weasyprint.__version__}".encode())
    folder = templates_dir()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".html", ".css", ".svg", ".png"))
    for path in files + [Path(__file__), Path(__file__).with_name("charts.py")]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for language in LANGUAGES:  # the catalogues: a corrected translation renders the PDFs again
        po = catalogue_path(language)
        if po.is_file():
            digest.update(language.encode())
            digest.update(po.read_bytes())
    return digest.hexdigest()


def make_environment(language: str | None = None):
    """The templates' jinja environment for *language*: autoescape on, undefined names are errors,
    and jinja2's i18n extension with the language's catalogue (``_()``, ``{% trans %}``; new-style
    gettext, so ``_('%(n)s rated', n=3)`` formats and escapes its arguments)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("merit.templates", ""),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml"), default_for_string=True,
                                     default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's line breaks are not part of its msgid
    translations = translator(language)
    env.install_gettext_translations(translations, newstyle=True)
    env.globals["page_counter"] = page_counter_css(translations.gettext)
    return env


def page_counter_css(gettext) -> "Markup":
    """The CSS ``content`` of the page counter in the catalogue's words: "Page 2 of 5"."""
    from markupsafe import Markup

    text = gettext("Page %(page)s of %(pages)s")
    parts = re.split(r"(%\(page\)s|%\(pages\)s)", text)
    out = []
    for part in parts:
        if part == "%(page)s":
            out.append("counter(page)")
        elif part == "%(pages)s":
            out.append("counter(pages)")
        elif part:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
            out.append(f'"{escaped}"')
    return Markup(" ".join(out))


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class AssetFetcher(URLFetcher):
        """Serves files inside ``templates/assets`` only; refuses every other URL."""

        def __init__(self, root: Path | None = None):
            super().__init__(allowed_protocols=("file",), allow_redirects=False)
            self.root = (root or assets_dir()).resolve()
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            if parts.scheme == "file" and parts.netloc in ("", "localhost"):
                path = Path(url2pathname(parts.path)).resolve()
                if path.is_relative_to(self.root) and path.is_file():
                    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": ctype})
            self.refused.append(url)
            raise PermissionError(f"merit's PDFs use only their bundled assets; refused {url[:120]!r}")

    return AssetFetcher


def AssetFetcher(root: Path | None = None):  # noqa: N802 (a class, built lazily: weasyprint is heavy)
    return _fetcher_class()(root)


# ------------------------------------------------------------------ the worker side
_STATE: dict = {}
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Make this worker end when *parent* (the run) does, however the run ends (even SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        # The kernel sends SIGKILL when the thread that started us exits. On failure (-1) the
        # parent check before each write (_parent_gone) still stops the worker.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _STATE["parent"] = parent
    if _parent_gone():  # the run died before the request above took effect
        os._exit(1)


def _parent_gone() -> bool:
    parent = _STATE.get("parent")
    return parent is not None and os.getppid() != parent


def _init_worker(parent: int | None = None) -> None:
    """Per process: the jinja environment, the stylesheet and fonts, parsed once.

    *parent*: the pid of the run, in a worker process (None when rendering in process)."""
    import logging

    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    if parent is not None:
        _die_with_parent(parent)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    fetcher = AssetFetcher()
    fonts = FontConfiguration()
    base = assets_dir().resolve().as_uri() + "/"
    css_text = (templates_dir() / STYLESHEET).read_text(encoding="utf-8")
    _STATE.update(envs={}, fetcher=fetcher, fonts=fonts, base=base,
                  css=CSS(string=css_text, base_url=base, url_fetcher=fetcher, font_config=fonts))


def html_to_pdf(html: str) -> bytes:
    """One HTML document to PDF bytes, with merit's stylesheet and fetcher."""
    from weasyprint import HTML

    if "envs" not in _STATE:
        _init_worker()
    doc = HTML(string=html, base_url=_STATE["base"], url_fetcher=_STATE["fetcher"])
    return doc.write_pdf(stylesheets=[_STATE["css"]], font_config=_STATE["fonts"])


def render_html(template: str, context: dict) -> str:
    """*template* filled with *context*, in the context's ``language`` (its catalogue)."""
    if "envs" not in _STATE:
        _init_worker()
    language = check_language(context.get("language", DEFAULT_LANGUAGE))
    if language not in _STATE["envs"]:
        _STATE["envs"][language] = make_environment(language)
    return _STATE["envs"][language].get_template(template).render(**context)


def _render_job(job: tuple[str, dict, str]) -> str:
    template, context, target = job
    pdf = html_to_pdf(render_html(template, context))
    if _parent_gone():  # the run is over: its staging folder is not ours to write into
        os._exit(1)
    write_atomic(target, pdf)
    return target


# ------------------------------------------------------------------ the main side
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def safe_filename(name: str) -> str:
    """A file name for an agent id or team name: no separators, no leading dot."""
    text = _UNSAFE.sub("_", str(name)).strip("._") or "_"
    return text[:120]


def _unique_names(ids: Iterable[str]) -> dict[str, str]:
    out, used = {}, set()
    for ident in ids:
        base = safe_filename(ident)
        name = base
        if name.lower() in used:
            name = f"{base}-{hashlib.sha256(str(ident).encode()).hexdigest()[:8]}"
        used.add(name.lower())
        out[ident] = name
    return out


def context_hash(template: str, context: dict) -> str:
    payload = json.dumps({"template": template, "context": context}, sort_keys=True, ensure_ascii=False,
                         default=str, separators=(",", ":"))
    return hashlib.sha256((renderer_fingerprint() + payload).encode("utf-8")).hexdigest()


def _read_manifest(folder: Path | None) -> dict:
    if folder is None:
        return {}
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return doc.get("files", {}) if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def render_all(prep, evaluation, scores, stage: Path, progress: Progress | None = None,
               agents: list[str] | None = None, teams: list[str] | None = None,
               workers: int | None = None, previous: Path | None = None,
               language: str | None = None) -> list[Path]:
    """Render the scorecards of a cycle into ``stage/pdf`` (the staging folder of out/).

    ``agents``/``teams`` restrict what is rendered (None: all); PDFs not
    rendered this time are carried over from the previous ``out/pdf`` when it
    has them.  ``workers``: processes (default one per core; 1 = in process).
    ``language``: the readers' (None: the cycle's ``language``).
    """
    return render_into(prep, evaluation, scores, Path(stage) / "pdf", progress=progress, agents=agents,
                       teams=teams, workers=workers,
                       previous=previous if previous is not None else prep.ws.out_dir / "pdf", language=language)


def render_into(prep, evaluation, scores, pdf_dir: Path, *, progress: Progress | None = None,
                agents: list[str] | None = None, teams: list[str] | None = None,
                workers: int | None = None, previous: Path | None = None,
                language: str | None = None) -> list[Path]:
    from merit.render.context import ContextBuilder

    progress = progress or (lambda step, fraction=None: None)
    workers = workers or default_workers()
    pdf_dir = Path(pdf_dir)
    (pdf_dir / "agents").mkdir(parents=True, exist_ok=True)
    (pdf_dir / "teams").mkdir(parents=True, exist_ok=True)
    all_agents = [str(a) for a in scores.table["agent_id"]]
    all_teams = sorted({str(t) for t in scores.table["team"].dropna()})
    want_agents = _wanted(all_agents, agents, "agent", "an agent_id scored in this cycle")
    want_teams = _wanted(all_teams, teams, "team", "one of " + ", ".join(all_teams))
    agent_files = _unique_names(all_agents)
    team_files = _unique_names(all_teams)

    progress("scorecards: preparing", 0.0)
    builder = ContextBuilder(prep, evaluation, scores, language=language)
    jobs: list[tuple[str, str, dict]] = []  # (relative path, template, context)
    for aid, ctx in builder.agent_contexts(want_agents):
        jobs.append((f"agents/{agent_files[aid]}.pdf", AGENT_TEMPLATE, ctx))
    for team, ctx in builder.team_contexts(want_teams):
        jobs.append((f"teams/{team_files[team]}.pdf", TEAM_TEMPLATE, ctx))
    every = {f"agents/{agent_files[a]}.pdf" for a in all_agents} | {f"teams/{team_files[t]}.pdf" for t in all_teams}
    manifest, todo = _reuse_unchanged(jobs, every, pdf_dir, previous)
    _render_todo(todo, workers, progress, unchanged=len(jobs) - len(todo))
    doc = {"engine": f"merit {__version__}", "files": dict(sorted(manifest.items()))}
    (pdf_dir / MANIFEST).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return sorted(pdf_dir / rel for rel in manifest)


def default_workers() -> int:
    """Render processes when none are asked for: ``MERIT_RENDER_WORKERS``, else one per core.
    (1 renders in the run's own process: no process start-up, which is what a machine running
    several merit runs at once, such as the test suite, wants.)"""
    from merit.core.errors import MeritError

    asked = os.environ.get("MERIT_RENDER_WORKERS", "").strip()
    if not asked:
        return os.cpu_count() or 1
    if not asked.isdigit() or int(asked) < 1:
        raise MeritError(f"MERIT_RENDER_WORKERS={asked!r} is not a number of processes", expected="a whole number ≥ 1")
    return int(asked)


def _wanted(every: list[str], asked: list[str] | None, what: str, expected: str) -> list[str]:
    """The ids to render (None: all of them); an id not scored in this cycle is refused."""
    from merit.core.errors import MeritError

    want = every if asked is None else [str(x) for x in asked]
    unknown = [x for x in want if x not in set(every)]
    if unknown:
        raise MeritError(f"unknown {what} '{unknown[0]}'", expected=expected)
    return want


def _reuse_unchanged(jobs: list[tuple[str, str, dict]], every: set[str], pdf_dir: Path,
                     previous: Path | None) -> tuple[dict[str, dict], list[tuple[str, dict, str]]]:
    """(the manifest, the jobs to render): a PDF whose inputs' hash matches the previous run's
    is copied from there, and so is every PDF not asked for this time."""
    old = _read_manifest(previous)
    manifest: dict[str, dict] = {}
    todo: list[tuple[str, dict, str]] = []
    for rel, template, ctx in jobs:
        digest = context_hash(template, ctx)
        manifest[rel] = {"sha256_inputs": digest}
        src = previous / rel if previous is not None else None
        if src is not None and old.get(rel, {}).get("sha256_inputs") == digest and src.is_file():
            shutil.copyfile(src, pdf_dir / rel)
        else:
            todo.append((template, ctx, str(pdf_dir / rel)))
    wanted = {rel for rel, _, _ in jobs}
    for rel in sorted(every - wanted):
        if rel in old and previous is not None and (previous / rel).is_file():
            shutil.copyfile(previous / rel, pdf_dir / rel)
            manifest[rel] = old[rel]
    return manifest, todo


def _render_todo(todo: list[tuple[str, dict, str]], workers: int, progress: Progress, unchanged: int) -> None:
    total = len(todo)
    done = 0
    progress(f"scorecards: 0/{total} rendered ({unchanged} unchanged)", 0.0 if total else 1.0)
    if total <= 1 or workers <= 1:
        for job in todo:
            _render_job(job)
            done += 1
            progress(f"scorecards: {done}/{total} rendered", done / total)
        return

    def rendered(_path: str) -> None:
        nonlocal done
        done += 1
        progress(f"scorecards: {done}/{total} rendered", done / total)

    _render_in_workers(todo, min(workers, total), rendered)


def _render_in_workers(todo: list[tuple[str, dict, str]], workers: int, rendered: Callable[[str], None]) -> None:
    """Render *todo* in *workers* processes, calling *rendered* with each PDF's path as it is written.

    If anything stops the rendering (a failed PDF, Terminated on SIGTERM,
    KeyboardInterrupt) the workers are terminated before the exception goes on,
    so that no PDF lands in a staging folder after its run gave up on it."""
    import multiprocessing

    # spawn: the parent holds DuckDB's threads, which fork() must not copy.
    ctx = multiprocessing.get_context("spawn")
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(os.getpid(),))
    try:
        futures = [pool.submit(_render_job, job) for job in todo]
        for fut in as_completed(futures):
            rendered(fut.result())
    except BaseException:
        _stop(pool, [p for p in multiprocessing.active_children() if p not in before])
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor, workers: list) -> None:
    """Cancel what is queued and end the workers now (not after their current PDF)."""
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join()


def render_workspace(workspace: Path | str, *, agents: list[str] | None = None, teams: list[str] | None = None,
                     progress: Progress | None = None, workers: int | None = None,
                     language: str | None = None, backend: str | None = None) -> list[Path]:
    """``merit render``: evaluate the workspace again and replace ``out/pdf`` atomically, in
    *language* (None: the cycle's).

    With previous cycles in cycle.yaml the scorecards show the trends (as ``merit run``
    does).  Call it with the workspace lock held (merit.usecases.render takes it)."""
    from merit.core.evaluate import evaluate
    from merit.core.files import staged_folder
    from merit.cycles.run import attach_trends, prepare_cycle as prepare
    from merit.core.scoring import score

    progress = progress or (lambda step, fraction=None: None)
    workers = workers or default_workers()  # (a wrong MERIT_RENDER_WORKERS is said before any work)
    prep = prepare(workspace, progress=progress, backend=backend)
    progress("evaluate")
    evaluation = evaluate(prep.plan, prep.tables, prep.ws, progress=progress)
    scores = score(evaluation)
    attach_trends(prep, evaluation, scores)
    out_pdf = prep.ws.out_dir / "pdf"
    prep.ws.out_dir.mkdir(parents=True, exist_ok=True)
    with staged_folder(out_pdf) as stage:
        files = render_into(prep, evaluation, scores, stage, progress=progress, agents=agents, teams=teams,
                            workers=workers, previous=out_pdf, language=language)
        rel = [f.relative_to(stage) for f in files]
    return [out_pdf / r for r in rel]
