"""`forfait-agent`: French for the doctor, JSON for machines. Exit 0 ok, 1 usage, 2 bad input."""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from . import __version__

EXIT_OK, EXIT_USAGE, EXIT_INPUT = 0, 1, 2
YES = {"yes", "oui", "o", "y", "true", "vrai", "1"}
NO = {"no", "non", "n", "false", "faux", "0"}


class UsageError(Exception):
    """Wrong command line: exit 1."""


class InputError(Exception):
    """Bad input file or data: exit 2."""


class _Formatter(argparse.HelpFormatter):
    """Help wrapped where French allows it: never inside « … », nor before : ; ! ? (textwrap
    breaks at ASCII spaces only, so those become no-break spaces)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return super()._split_lines(re.sub(r"(?<=«) | (?=[»:;!?])", "\u00a0", text), width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # argparse quotes choices the Python way ('install', 'show'): shown as typed instead.
        message = re.sub(
            r"\(possibles : ([^)]*)\)", lambda m: "(possibles : " + m.group(1).replace("'", "") + ")", message
        )
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog} : erreur : {message}\n")


def _date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"date invalide « {text} » (attendu AAAA-MM-JJ ou JJ/MM/AAAA)")


def _rpps(text: str) -> str:
    from .wizard import parse_rpps

    try:
        return parse_rpps(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    extra = {} if default is None else {"default": default}
    parser.add_argument(
        "--data-dir", help="dossier des données (défaut : $FORFAIT_AGENT_HOME ou dossier utilisateur)", **extra
    )
    parser.add_argument(
        "--config", help="fichier de configuration TOML (défaut : config.toml du dossier des données)", **extra
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="journal détaillé", **extra)


def build_parser() -> argparse.ArgumentParser:
    from .french import install_argparse, integer, number

    install_argparse()
    parser = _Parser(
        prog="forfait-agent",
        description="Suivi en continu du forfait structure / de la dotation numérique.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="afficher la version et quitter"
    )
    _add_global_options(parser, None)
    # The same options are accepted after the command too (`score --data-dir D`); there they
    # only count when given, so they never erase what was given before the command.
    common = _Parser(add_help=False)
    _add_global_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE", parser_class=_Parser)
    original_add_parser = sub.add_parser

    def add_parser(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return original_add_parser(name, parents=[common], **kwargs)

    sub.add_parser = add_parser  # type: ignore[method-assign]
    sub.required = True

    p = sub.add_parser("demo", help="données de démonstration : ingestion, score et rapport")
    p.add_argument("--seed", type=integer, default=2026, help="graine du générateur (reproductible)")
    p.add_argument("--practitioners", type=integer, default=3, choices=(1, 2, 3), help="nombre de médecins")

    p = sub.add_parser("scan", help="ingérer des fichiers ou dossiers (rattrapage), sans doublon")
    p.add_argument("paths", nargs="+", type=Path, metavar="CHEMIN", help="fichiers ou dossiers à lire")
    p.add_argument("--adapter", help="adaptateur à utiliser (sinon choisi d'après le nom du fichier)")
    p.add_argument("--practitioner", type=_rpps, help="RPPS à attribuer aux enregistrements qui n'en ont pas")
    p.add_argument("--json", action="store_true", help="résumé en JSON")

    for name, helptext in (("score", "le score de l'année"), ("report", "rapport lisible (terminal ou HTML)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--year", type=integer, help="année, par exemple 2025 (défaut : année en cours)")
        p.add_argument("--as-of", type=_date, help="date d'arrêté, AAAA-MM-JJ ou JJ/MM/AAAA (défaut : aujourd'hui)")
        p.add_argument("--practitioner", type=_rpps, help="un seul praticien (RPPS)")
        if name == "score":
            p.add_argument("--json", action="store_true", help="sortie JSON (contrat machine)")
        else:
            p.add_argument("--html", type=Path, metavar="FICHIER", help="écrire un rapport HTML autonome")

    p = sub.add_parser("declaration", help="ce qu'il faudra déclarer sur amelipro pour l'année")
    p.add_argument("--year", type=integer, help="année, par exemple 2025 (défaut : année en cours)")
    p.add_argument("--practitioner", type=_rpps, help="un seul praticien (RPPS)")
    p.set_defaults(as_of=None)

    sub.add_parser("open", help="ouvrir le rapport HTML du dossier des données dans le navigateur")

    p = sub.add_parser("declare", help="enregistrer un indicateur déclaratif (oui/non)")
    p.add_argument("indicator", metavar="INDICATEUR", help="identifiant de l'indicateur (voir « declaration »)")
    p.add_argument("answer", metavar="oui|non", help="votre réponse sur amelipro")
    p.add_argument("--year", type=integer, help="année déclarée (défaut : année en cours)")
    p.add_argument("--practitioner", type=_rpps, help="RPPS du médecin (obligatoire si le cabinet en a plusieurs)")

    p = sub.add_parser("attribute", help="rattacher à un RPPS les événements « inconnu » (sans relire les fichiers)")
    p.add_argument("rpps", type=_rpps, metavar="RPPS", help="RPPS du médecin à qui rattacher ces événements")
    p.add_argument("--folder", type=Path, metavar="DOSSIER", help="seulement ceux lus dans ce dossier")

    p = sub.add_parser("plugins", help="greffons et adaptateurs installés")
    p.add_argument("--json", action="store_true", help="liste en JSON")

    p = sub.add_parser("plugin", help="pour les éditeurs : créer un greffon d'adaptateur")
    psub = p.add_subparsers(dest="plugin_command", metavar="ACTION", parser_class=_Parser)
    psub.required = True
    n = psub.add_parser(
        "new",
        help="créer un greffon complet (adaptateur, exemple, tests) prêt à tester",
        description="Crée le dossier forfait-agent-NOM : pyproject (extra « test »), adaptateur, fichier "
        "d'exemple, tests du contrat, README. Ses tests passent dès la création.",
        parents=[common],
    )
    n.add_argument("name", metavar="NOM", help="nom court du format, ex. : monlgc (minuscules, chiffres, tirets)")
    n.add_argument("--dir", type=Path, default=Path(), metavar="DOSSIER", help="où créer le greffon (défaut : ici)")

    p = sub.add_parser("rules", help="règles annuelles")
    rsub = p.add_subparsers(dest="rules_command", metavar="ACTION", parser_class=_Parser)
    rsub.required = True
    rsub.add_parser("list", help="années disponibles", parents=[common])
    c = rsub.add_parser("check", help="valider un fichier de règles", parents=[common])
    c.add_argument("file", type=Path, metavar="FICHIER", help="fichier de règles TOML à valider")

    p = sub.add_parser("backup", help="sauvegarder la base (cohérente même pendant que l'agent tourne)")
    p.add_argument("file", type=Path, metavar="FICHIER", help="fichier de sauvegarde à écrire")
    p.add_argument("--force", action="store_true", help="remplacer un fichier existant")

    p = sub.add_parser("restore", help="remettre une sauvegarde en place (agent arrêté)")
    p.add_argument("file", type=Path, metavar="FICHIER", help="sauvegarde faite par « forfait-agent backup »")

    p = sub.add_parser("status", help="état : agent, données, dossiers suivis, quarantaine, adaptateurs")
    p.add_argument("--json", action="store_true", help="état complet en JSON")
    p.add_argument("--fichiers", "--files", dest="files", action="store_true", help="détail fichier par fichier")
    p.add_argument(
        "--quarantaine", "--quarantine", dest="quarantine", action="store_true", help="chaque élément en quarantaine"
    )

    p = sub.add_parser("run", help="l'agent : surveille les dossiers configurés et tient le score à jour")
    p.add_argument("--polling", action="store_true", help="forcer la scrutation périodique (partages réseau)")

    p = sub.add_parser("init", help="écrire le fichier de configuration (questions, ou options)")
    p.add_argument(
        "--folder",
        action="append",
        type=Path,
        default=[],
        metavar="DOSSIER",
        help="dossier d'exports du LGC à surveiller (répétable)",
    )
    p.add_argument("--adapter", help="adaptateur imposé pour ces dossiers (sinon d'après les noms de fichiers)")
    p.add_argument("--practitioner", type=_rpps, help="RPPS par défaut (cabinet d'un seul médecin)")
    p.add_argument("--name", metavar="NOM", help="nom affiché de ce médecin, par exemple « Dr A. Martin »")
    p.add_argument("--poll-interval", type=number, default=5.0, help="secondes entre deux balayages (défaut 5)")
    p.add_argument("--force", action="store_true", help="remplacer un fichier existant")

    p = sub.add_parser("service", help="démarrer l'agent avec la session (sans droits administrateur)")
    p.add_argument(
        "action",
        choices=("install", "uninstall", "status", "show"),
        help="install : installer ; uninstall : retirer ; status : état ; show : afficher le fichier",
    )
    _french_metavars(parser)
    return parser


METAVARS = {
    "practitioner": "RPPS",
    "year": "ANNÉE",
    "as_of": "DATE",
    "data_dir": "DOSSIER",
    "config": "FICHIER",
    "adapter": "ADAPTATEUR",
    "seed": "N",
    "practitioners": "N",
    "poll_interval": "SECONDES",
}


def _french_metavars(parser: argparse.ArgumentParser) -> None:
    """`--year ANNÉE` rather than argparse's `--year YEAR`, in every command's help."""
    for action in parser._actions:
        if action.option_strings and action.metavar is None and action.dest in METAVARS and action.nargs != 0:
            action.metavar = METAVARS[action.dest]
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _french_metavars(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Everything printed passes through the privacy gate: a NIR in a folder name, a message
    or an error is masked whatever printed it (rich, print, argparse, a traceback)."""
    from .console import setup_streams
    from .privacy import RedactingStream

    setup_streams()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    sys.excepthook = _redacted_traceback  # a crash's traceback is printed after main() returns
    try:
        return _main(argv)
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved


def _redacted_traceback(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    import traceback

    from .privacy import redact

    sys.__stderr__.write(redact("".join(traceback.format_exception(kind, exc, tb))))


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        print(f"forfait-agent : {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:
        print(f"forfait-agent : {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("forfait-agent : interrompu.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The program reading our output stopped early: what it read is what it wanted. Point stdout
        # at the null device so flushing it at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    from .config import ConfigError
    from .french import os_error
    from .paths import AGENT_LOG, COMMANDS_LOG, ENV_CONFIG, data_dir
    from .store import StoreError

    if args.command == "rules" and args.rules_command == "check":
        return _rules_check(args.file)
    if args.command == "plugin":
        return _plugin_new(args.name, args.dir)
    from .app import App

    home = data_dir(args.data_dir)
    try:
        app = App(
            home, args.config, verbose=args.verbose, log_file=AGENT_LOG if args.command == "run" else COMMANDS_LOG
        )
    except OSError as exc:
        raise InputError(f"dossier des données {home} inutilisable : {os_error(exc)}") from exc
    for warning in app.warnings:
        print(f"forfait-agent : attention : {warning}", file=sys.stderr)
    app.on_notice = lambda text: print(f"forfait-agent : attention : {text}", file=sys.stderr, flush=True)
    app.check_store = args.command == "scan"
    try:
        named = args.config or os.environ.get(ENV_CONFIG)
        if named and args.command not in ("init", "demo") and not app.config_path.is_file():
            raise UsageError(  # silently running without it would score with nobody's names nor folders
                f"fichier de configuration introuvable : {app.config_path} (donné par "
                f"{'--config' if args.config else ENV_CONFIG}) ; pour le créer : « {command_prefix(args)} init »"
            )
        handler = {
            "demo": _demo,
            "scan": _scan,
            "score": _score,
            "report": _report,
            "declaration": _declaration,
            "open": _open,
            "declare": _declare,
            "attribute": _attribute,
            "plugins": _plugins,
            "rules": _rules_list,
            "status": _status,
            "run": _run,
            "init": _init,
            "service": _service,
            "backup": _backup,
            "restore": _restore,
        }[args.command]
        return handler(app, args)
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    except StoreError as exc:
        raise InputError(str(exc)) from exc
    except BrokenPipeError:
        raise  # the reader of our output went away (`| findstr`, `| head`): not a file error
    except sqlite3.DatabaseError as exc:
        from .lifecycle import is_damage
        from .store import DB_FILE

        app.log.exception("command_failed", command=args.command)
        if not is_damage(exc):
            raise InputError(f"erreur d'accès aux fichiers : {exc}") from exc
        raise InputError(
            f"{app.home / DB_FILE} : base de données endommagée ({exc}) ; « scan » ou l'agent (« run ») la mettront"
            " de côté et la reconstruiront en relisant les fichiers surveillés, déclarations comprises"
        ) from exc
    except (OSError, sqlite3.Error) as exc:  # disk full, permissions, a locked database…
        app.log.exception("command_failed", command=args.command)
        detail = os_error(exc) if isinstance(exc, OSError) else str(exc)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise InputError(f"erreur d'accès aux fichiers{where} : {detail}") from exc
    except Exception as exc:
        # A RulesError can only come from rules.py once a command has imported it: looking for
        # it here does not import it (`status` never reads the rules).
        rules = sys.modules.get(f"{__package__}.rules")
        if rules is not None and isinstance(exc, rules.RulesError):
            raise UsageError(str(exc)) from exc
        raise
    finally:
        app.close()


def _console() -> Any:
    """Rich console without markup nor emoji codes: a '[practitioners]' in a hint or a folder
    named ':rocket:' stays as written (and rich's emoji table, 4 ms to import, stays unloaded).
    Its width is the terminal's, or COLUMNS; output piped elsewhere gets 120 columns."""
    import os

    from rich.console import Console

    from .french import install_rich_wrapping
    from .privacy import redact

    install_rich_wrapping()

    class MaskedConsole(Console):
        """Text is masked before rich wraps it: a NIR cut over two lines would escape the stream gate."""

        def print(self, *objects: Any, **options: Any) -> None:
            super().print(*(redact(o) if isinstance(o, str) else o for o in objects), **options)

    sized = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
    return MaskedConsole(highlight=False, markup=False, emoji=False, soft_wrap=False, width=None if sized else 120)


def _quote(text: str) -> str:
    if os.name == "nt":
        import subprocess

        return subprocess.list2cmdline([text])
    import shlex

    return shlex.quote(text)


def launcher() -> str:
    """How the user started the agent, so that the commands we suggest paste as they are:
    `forfait-agent` when that is what the PATH finds, else the path that was typed
    (`.venv/bin/forfait-agent`), or `python -m forfait_agent`."""
    import os
    import shutil

    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "forfait-agent"
    if Path(argv0).name == "__main__.py":
        python = shutil.which(Path(sys.executable).name)
        same = python is not None and os.path.realpath(python) == os.path.realpath(sys.executable)
        return f"{Path(sys.executable).name if same else _quote(sys.executable)} -m forfait_agent"
    found = shutil.which("forfait-agent")
    try:
        if found and os.path.samefile(found, argv0):
            return "forfait-agent"
    except OSError:
        pass
    return _quote(argv0)


def command_prefix(args: argparse.Namespace | None = None, data_dir: Path | None = None) -> str:
    """The launcher plus the data folder and configuration given on this command line."""
    parts = [launcher()]
    folder = data_dir or (getattr(args, "data_dir", None) if args else None)
    if folder:
        parts.append(f"--data-dir {_quote(str(folder))}")
    config = getattr(args, "config", None) if args else None
    if config and data_dir is None:
        parts.append(f"--config {_quote(str(config))}")
    return " ".join(parts)


def _view(app: Any, args: argparse.Namespace) -> Any:
    from .app import today
    from .report import View

    return View(today(), app.names, command_prefix(args), app.settings.default_practitioner)


def _print_json(data: Any) -> None:
    from .console import dumps_json

    sys.stdout.write(dumps_json(data) + "\n")


# -- commands ----------------------------------------------------------------------------------
def _plugin_new(name: str, parent: Path) -> int:
    from .scaffold import ScaffoldError, create, installed_core

    try:
        root = create(name, parent)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise InputError(f"impossible de créer le greffon dans {parent} : {exc.strerror or exc}") from exc
    core = installed_core()
    print(f"Greffon créé : {root}")
    print("Ensuite (dans un environnement virtuel neuf, le cœur d'abord) :")
    print(f"  cd {root}")
    print("  python3 -m venv .venv")
    print(f'  .venv/bin/pip install {core + " " if core else ""}-e ".[test]"')
    print("  .venv/bin/python -m pytest")
    print("Puis écrivez votre adaptateur : voir README.md du greffon et docs/vendors.md de forfait-agent.")
    return 0


def _year_and_date(app: Any, args: argparse.Namespace) -> tuple[int, date]:
    from .app import today

    now = today()
    year = args.year or (args.as_of.year if args.as_of else app.default_year())
    as_of = args.as_of or (min(now, date(year, 12, 31)) if year <= now.year else date(year, 1, 1))
    if year not in app.rulebook.years():
        known = ", ".join(str(y) for y in app.rulebook.years())
        raise UsageError(f"aucune règle pour l'année {year} (années connues : {known})")
    return year, as_of


def _score(app: Any, args: argparse.Namespace) -> int:
    year, as_of = _year_and_date(app, args)
    score = app.score(year, as_of, args.practitioner)
    if args.json:
        _print_json(score.as_json())
        return EXIT_OK
    from .report import render

    render(score, app.rulebook.get(year), _console(), _view(app, args))
    return EXIT_OK


def _report(app: Any, args: argparse.Namespace) -> int:
    year, as_of = _year_and_date(app, args)
    if args.html:
        from .htmlreport import write_report

        path = write_report(app, args.html, year, as_of, args.practitioner)
        print(f"Rapport écrit : {path.resolve()}")
        return EXIT_OK
    from .report import render, render_history

    console, view = _console(), _view(app, args)
    render(app.score(year, as_of, args.practitioner), app.rulebook.get(year), console, view)
    render_history(app.history(args.practitioner), console, view)
    return EXIT_OK


def _declaration(app: Any, args: argparse.Namespace) -> int:
    from .declaration import sheets
    from .report import render_declaration

    year, as_of = _year_and_date(app, args)
    rules = app.rulebook.get(year)
    score = app.score(year, as_of, args.practitioner)
    render_declaration(rules, sheets(rules, score, app.store.declarations(year)), _console(), _view(app, args))
    return EXIT_OK


def _open(app: Any, args: argparse.Namespace) -> int:
    import webbrowser

    from .htmlreport import REPORT_FILE, write_report

    year = app.default_year()
    path = write_report(app, app.home / REPORT_FILE, year, app.as_of_for(year))
    print(f"Ouverture de {path}")
    if not webbrowser.open(path.resolve().as_uri()):
        print("Aucun navigateur trouvé : ouvrez ce fichier vous-même.")
    return EXIT_OK


def _scan(app: Any, args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise InputError("; ".join(f"{p} : fichier ou dossier introuvable" for p in missing))
    if args.adapter and args.adapter not in app.plugins.adapters:
        known = ", ".join(sorted(app.plugins.adapters))
        raise UsageError(f"adaptateur inconnu « {args.adapter} » (disponibles : {known})")
    _wait_for_the_database(app, app.settings.scan_lock_wait)
    report = _run_scan(app, args.paths, args.adapter, args.practitioner)
    if args.json:
        _print_json(report.as_json())
    else:
        print_scan_report(report, _console(), command_prefix(args))
    return EXIT_OK if not report.errors else EXIT_INPUT


def _wait_for_the_database(app: Any, limit: float) -> None:
    """A one-shot command waits at most `limit` seconds for a database another program keeps
    locked, and says once that it is waiting."""
    told = False

    def on_busy(waited: float) -> None:
        nonlocal told
        if not told:
            told = True
            print(
                "forfait-agent : base de données verrouillée par un autre programme, attente…",
                file=sys.stderr,
                flush=True,
            )
        app.log.warning("database_busy", seconds=round(waited, 1))

    app.store.busy_limit = limit
    app.store.on_busy = on_busy


def _run_scan(app: Any, paths: list[Path], adapter: str | None, practitioner: str | None) -> Any:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from .fileio import long_path
    from .ingest import iter_files

    context = app.settings.context(practitioner=practitioner)
    total = sum(os.stat(long_path(str(p))).st_size for p in iter_files(paths, app.home))
    show = sys.stderr.isatty() and total > 20_000_000
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        disable=not show,
        transient=True,
    ) as progress:
        task = progress.add_task("Ingestion", total=total)
        return app.ingestor.scan(
            paths, adapter=adapter, context=context, exclude=app.home, progress=lambda n: progress.advance(task, n)
        )


def print_scan_report(report: Any, console: Any, command: str = "forfait-agent") -> None:
    from .filesystem import path_text
    from .reasons import REASONS_FR
    from .report import fmt_int, print_command

    summary = report.as_json()
    console.print(
        f"Fichiers lus : {fmt_int(summary['files'])} — enregistrements : {fmt_int(summary['records'])} — "
        f"événements nouveaux : {fmt_int(summary['new'])}, déjà connus : {fmt_int(summary['known'])} — "
        f"mis en quarantaine : {fmt_int(summary['quarantined'])}"
    )
    for code, count in sorted(report.reasons().items(), key=lambda kv: -kv[1]):
        console.print(f"  • {REASONS_FR.get(code, code)} : {fmt_int(count)}")
    for result in report.files:
        if result.restarted:
            why = {
                "replaced": "remplacé par un autre fichier",
                "truncated": "raccourci",
                "rewritten": "réécrit avant la partie déjà lue",
            }[result.restarted]
            console.print(f"  Fichier {path_text(result.path)} relu depuis le début ({why}).")
        if result.pending_bytes:
            console.print(
                f"  Fichier {path_text(result.path)} : fin inachevée ({result.pending_bytes} octets : dernière ligne"
                " ou dernier message) laissée pour une prochaine lecture — le fichier vient d'être modifié et est"
                " peut-être encore en cours d'écriture."
            )
    if report.unmatched:
        names = ", ".join(path_text(p.name) for p in report.unmatched[:3]) + (" …" if len(report.unmatched) > 3 else "")
        console.print(f"Ignorés (aucun adaptateur ne reconnaît ce nom) : {len(report.unmatched)} fichier(s) : {names}")
    if report.ignored:
        console.print(
            f"Ignorés (contenu d'un autre format que celui de l'adaptateur) : {len(report.ignored)} fichier(s)"
        )
    for path, names in report.conflicts:
        console.print(
            f"Conflit : {path_text(path.name)} est revendiqué par {', '.join(names)} ; "
            "précisez --adapter ou configurez le dossier."
        )
    for folder, why in report.unread_folders:
        console.print(
            f"Dossier non lu : {path_text(folder)} — {why} ; ses fichiers ne sont pas comptés.",
            style="red",
            markup=False,
            soft_wrap=True,  # the folder's path stays whole, to copy
        )
    unread = report.unread()
    if unread:
        count = report.unread_records()
        known = all(f.unread_records is not None for f in unread)
        quantity = count if known else f"au moins {count}" if count else "un nombre inconnu"
        console.print(
            f"Enregistrements non lus : {quantity} dans {len(unread)} fichier(s)"
            " — pas encore comptés ; relancez la commande une fois la cause corrigée, ils seront lus (jamais en"
            " double) :",
            style="red",
        )
        for result in unread:
            how_many = "?" if result.unread_records is None else result.unread_records
            console.print(f"  • {path_text(result.path)} : {how_many} — {result.unread}", markup=False)
    if summary["quarantined"]:
        console.print("Les lignes mises en quarantaine ne sont pas comptées ; le détail :")
        print_command(console, f"{command} status --quarantaine")


def _declare(app: Any, args: argparse.Namespace) -> int:
    from .app import today
    from .events import Declaration

    answer = args.answer.strip().lower()
    if answer in YES:
        value: bool | float = True
    elif answer in NO:
        value = False
    else:
        try:
            value = float(answer.replace(",", "."))
        except ValueError:
            raise UsageError(f"réponse « {args.answer} » : attendu oui ou non") from None
    year = args.year or today().year
    rules = app.rulebook.get(year)
    from .scoring import is_declarative

    declarable = {i.id: i for i in rules.indicators if is_declarative(i.condition)}
    if args.indicator not in declarable:
        raise UsageError(
            f"« {args.indicator} » n'est pas un indicateur déclaratif de {year}. Possibles : {', '.join(declarable)}"
        )
    rpps = args.practitioner or app.settings.default_practitioner
    if not rpps:
        known = [p for p in app.store.practitioners(date(year, 1, 1), date(year, 12, 31)) if p != "inconnu"]
        if len(known) != 1:
            raise UsageError("précisez --practitioner RPPS (plusieurs praticiens ou aucun connu)")
        rpps = known[0]
    now = datetime.now(UTC)
    event = Declaration(
        kind="declaration",
        id=f"declare:{rpps}:{year}:{args.indicator}:{now.timestamp():.6f}",
        at=now,
        practitioner=rpps,
        indicator=args.indicator,
        year=year,
        value=value,
    )
    from .lifecycle import journal_declaration

    row = app.ingestor.declaration_row(event)
    with app.store.transaction():
        app.store.insert_declarations([row])
    journal_declaration(app.home, row)  # the one thing no re-read of the exports could bring back
    app.log.info("declared", indicator=args.indicator, year=year, practitioner=rpps, value=value)
    verdict = "oui" if value else "non"
    who = _view(app, args).title(rpps)
    _console().print(f"Enregistré pour {who}, {year} : « {declarable[args.indicator].label} » = {verdict}")
    return EXIT_OK


def _attribute(app: Any, args: argparse.Namespace) -> int:
    under = str(args.folder.expanduser().resolve()) if args.folder else None
    with app.store.transaction():
        moved = app.store.reattribute(args.rpps, under)
    app.log.info("reattributed", practitioner=args.rpps, events=moved)
    where = f" lus dans {under}" if under else ""
    print(f"{moved} événement(s){where} rattaché(s) au RPPS {args.rpps} ; le score est recalculé sans relecture.")
    return EXIT_OK


def _plugins(app: Any, args: argparse.Namespace) -> int:
    plugins = app.plugins
    if args.json:
        data = []
        for info in plugins.infos:
            item = info.as_json()
            item["adapters"] = [
                {
                    "name": name,
                    "patterns": list(plugins.adapters[name].patterns),
                    "framing": plugins.adapters[name].framing,
                    "encoding": getattr(plugins.adapters[name], "encoding", None),
                }
                for name in info.adapters
            ]
            data.append(item)
        _print_json(data)
        return EXIT_OK
    from rich.table import Table

    table = Table("Greffon", "Version", "État", "Adaptateurs", "Motifs de fichiers", title="Greffons installés")
    for info in plugins.infos:
        state = {"ok": "actif", "error": "en erreur", "disabled": "désactivé"}[info.status]
        patterns = "; ".join(" ".join(plugins.adapters[n].patterns) for n in info.adapters)
        table.add_row(info.name, info.version or "—", state, ", ".join(info.adapters) or "—", patterns or "—")
    console = _console()
    console.print(table)
    for info in plugins.infos:
        if info.error:
            console.print(f"{info.name} : {info.error}", style="red")
    return EXIT_OK


def _rules_list(app: Any, args: argparse.Namespace) -> int:
    from rich.table import Table

    from .report import fmt_eur, fmt_points

    user_dir = app.rulebook.user_dir
    years = app.rulebook.years()
    own = {y: app.rulebook.path(y) for y in years if user_dir is not None and app.rulebook.path(y).parent == user_dir}
    table = Table("Année", "Dispositif", "Maximum", title="Règles disponibles")
    if own:  # files the user added; the others come with forfait-agent
        table.add_column("Fichier", overflow="fold")  # a path is shown whole, never cut with « … »
    for year in years:
        rules = app.rulebook.get(year)
        row = [
            str(year),
            f"{rules.title} ({len(rules.indicators)} indicateurs)",
            f"{fmt_points(rules.max_points)} pts = {fmt_eur(rules.max_points * rules.point_value_eur)}",
        ]
        table.add_row(*row, *([str(own.get(year, "fourni avec forfait-agent"))] if own else []))
    _console().print(table)
    return EXIT_OK


def _rules_check(path: Path) -> int:
    from .report import fmt_points
    from .rules import RulesError, load_rules_file

    try:
        rules = load_rules_file(path)
    except RulesError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INPUT
    print(
        f"{path} : valide — {rules.title}, {len(rules.indicators)} indicateurs, "
        f"{fmt_points(rules.max_points)} points au maximum"
    )
    return EXIT_OK


def _status(app: Any, args: argparse.Namespace) -> int:
    from .status import DocumentFinder, collect, render

    data = collect(app)
    if args.json:
        _print_json(data)
        return EXIT_OK
    if not args.quarantine:
        render(data, _console(), command_prefix(args), files=args.files)
        return EXIT_OK
    items, name = app.store.quarantine_items(), DocumentFinder(app.ingestor.hasher, app.store.gate)
    render(data, _console(), command_prefix(args), files=args.files, items=items, name=name)
    return EXIT_OK


def _demo(app: Any, args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(app, seed=args.seed, practitioners=args.practitioners, console=_console(), command=launcher())


def _run(app: Any, args: argparse.Namespace) -> int:
    from .agent import Agent
    from .lock import AlreadyRunning, DataDirLock

    if not app.settings.folders:
        again = command_prefix(args)
        how = (
            f"« {again} init --force --folder DOSSIER » (remplace {app.config_path}) ou ajoutez une section "
            "[[folders]] à ce fichier"
            if app.config_path.exists()
            else f"lancez « {again} init »"
        )
        raise UsageError(f"aucun dossier à surveiller : {how}")
    lock = DataDirLock(app.home)
    try:
        lock.acquire()
    except AlreadyRunning as running:
        # What was asked (an agent on this folder) is true: the scheduled relaunch ends here, quietly.
        app.log.info("agent_already_running", pid=str(running))
        print(f"forfait-agent : un agent tourne déjà sur {app.home} (processus {running}).", file=sys.stderr)
        return EXIT_OK
    app.holds_lock = app.check_store = True
    try:
        agent = Agent(app, force_polling=args.polling)
        agent.install_signal_handlers()
        folders = ", ".join(str(f.path) for f in app.settings.folders)
        print(f"forfait-agent surveille : {folders} (Ctrl+C pour arrêter)", file=sys.stderr, flush=True)
        agent.run()
        print(f"forfait-agent : agent arrêté. Le score à jour : {command_prefix(args)} score", file=sys.stderr)
    finally:
        lock.release()
    return EXIT_OK


def _backup(app: Any, args: argparse.Namespace) -> int:
    from .lifecycle import backup

    target = args.file.expanduser().absolute()
    if target.exists() and not args.force:
        raise UsageError(f"{target} existe déjà (--force pour le remplacer)")
    if target.resolve() == app.store.path.resolve():
        raise UsageError("la sauvegarde ne peut pas remplacer la base elle-même")
    _wait_for_the_database(app, app.settings.scan_lock_wait)
    backup(app.store, target)
    app.log.info("backup_written", events=app.store.event_count())
    print(f"Sauvegarde écrite : {target} ({app.store.event_count()} événements).")
    print(f"Pour la remettre en place (agent arrêté) : forfait-agent restore {target}")
    return EXIT_OK


def _restore(app: Any, args: argparse.Namespace) -> int:
    from .lifecycle import restore
    from .lock import AlreadyRunning, DataDirLock

    source = args.file.expanduser()
    if not source.is_file():
        raise InputError(f"{source} : fichier introuvable")
    lock = DataDirLock(app.home)
    try:
        lock.acquire()  # an agent started meanwhile finds it taken and exits
    except AlreadyRunning as running:
        raise UsageError(
            f"l'agent tourne (processus {running}) : arrêtez-le avant de restaurer une sauvegarde"
        ) from None
    try:
        app.close()
        app.__dict__.pop("store", None)
        store, previous = restore(app.home, source)
        app.__dict__["store"] = store
    finally:
        lock.release()
    app.log.info("restored", events=store.event_count())
    print(f"Base restaurée depuis {source} : {store.event_count()} événements.")
    if previous is not None:
        print(f"L'ancienne base est gardée à côté : {previous.name}")
    print("Au prochain démarrage, l'agent relit ce que les fichiers surveillés ont reçu depuis la sauvegarde.")
    return EXIT_OK


def _init(app: Any, args: argparse.Namespace) -> int:
    from rich.padding import Padding
    from rich.text import Text

    from .config import load_settings
    from .report import print_command
    from .wizard import Abandoned, Answers, questions, render_config

    target = app.config_path
    again = command_prefix(args)
    if target.exists() and not args.force:
        raise UsageError(
            f"{target} existe déjà. Pour le refaire : « {again} init --force » (questions) ou "
            f"« {again} init --force --folder DOSSIER » ; pour le retoucher : ouvrez-le dans un éditeur de texte."
        )
    missing = [f for f in args.folder if not f.expanduser().is_dir()]
    if missing:
        raise InputError("; ".join(f"{f} : dossier introuvable" for f in missing))
    if args.adapter and args.adapter not in app.plugins.adapters:
        raise UsageError(f"adaptateur inconnu « {args.adapter} » (disponibles : {', '.join(app.plugins.adapters)})")
    console = _console()

    def say(text: str) -> None:
        """A line wrapped to the terminal, continuation lines under its first word."""
        body = text.lstrip(" ")
        console.print(Padding(Text(body), (0, 0, 0, len(text) - len(body)), expand=False))

    answers = Answers(list(args.folder), args.practitioner, args.name)
    if not answers.folders and sys.stdin.isatty():
        try:
            questions(input, say, answers)
        except Abandoned:
            print()
            raise UsageError("configuration abandonnée (fin de saisie) : rien n'a été écrit") from None
    text = render_config(answers.folders, args.adapter, answers.practitioner, args.poll_interval, answers.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    load_settings(target)  # what was written must load
    say(f"Configuration écrite : {target}")
    if answers.folders:
        say("Démarrer l'agent :")
        print_command(console, f"{again} run")
        say("ou le faire démarrer à chaque ouverture de session :")
        print_command(console, f"{again} service install")
    else:
        say("Aucun dossier surveillé pour l'instant : ajoutez-en un dans la section [[folders]] de ce fichier, ou avec")
        print_command(console, f"{again} init --force --folder DOSSIER")
    return EXIT_OK


def _service(app: Any, args: argparse.Namespace) -> int:
    from .service import run_commands, service_file

    config = app.config_path if app.config_path.exists() else None
    service = service_file(app.home, config)
    if args.action == "show":
        print(f"# {service.path}")
        print(service.content.decode("utf-16" if service.content[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"))
        return EXIT_OK
    if args.action == "install":
        service.path.parent.mkdir(parents=True, exist_ok=True)
        service.path.write_bytes(service.content)
        print(f"Fichier écrit : {service.path}")
        steps = run_commands(service.install)
    elif args.action == "uninstall":
        steps = run_commands(service.uninstall)
        if service.path.exists():
            service.path.unlink()
            print(f"Fichier supprimé : {service.path}")
    else:
        steps = run_commands([service.status])
    failed = False
    for command, code, output in steps:
        print(f"$ {command}  → code {code}")
        if output:
            print(output)
        failed = failed or code != 0
    return EXIT_INPUT if failed and args.action != "status" else EXIT_OK
