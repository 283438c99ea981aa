"""Command line: ``hsc-ref demo | info | correct | gan | style | golden | sweep``; ``main(argv)``.

Each command parses its options, calls one library function and prints: ``demo`` the
sections of :data:`DEMO_SECTIONS`, ``correct``
:func:`hsc_ref.lab._correct_files.correct_to_folder`, ``gan``
:func:`hsc_ref.lab._gan_run.run_to_folder`, ``style`` :func:`hsc_ref.lab._style_run.run_to_folder`,
``golden`` :mod:`hsc_ref.golden`, ``sweep`` :func:`hsc_ref.lab.sweep._engine.run_sweep`. Every
command runs with its BLAS pools sized by :mod:`hsc_ref.lab._threads` (``--blas-threads``).
The ``hsc-ref`` script and ``python -m hsc_ref`` run :func:`hsc_ref.__main__.entry`, which
imports this module inside its own Ctrl-C handler and runs the same :func:`main`.

Start-up is light: importing this module loads neither SciPy nor autograd, ``--version`` and
``--help`` load nothing more, and a command imports only its own modules, inside :func:`main`,
where a Ctrl-C already ends in one line and status 130.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import NamedTuple, NoReturn

from hsc_ref import __version__

__all__ = [
    "main",
]

DEMO_SECTIONS: list[tuple[str, str]] = [
    ("core", "hsc_ref._demo:core_report"),
    ("gan", "hsc_ref.gan._demo:gan_demo"),
    ("style", "hsc_ref.style._demo:style_demo"),
]
"""Sections of ``hsc-ref demo``, each ``(name, "module:function")``, ``function(seed) -> text``.

The functions are imported when their section runs (:func:`_demo_section`).
"""


def _demo_section(name: str) -> Callable[[int], str]:
    """The function of the demo section ``name`` (:data:`DEMO_SECTIONS`), imported now.

    Examples
    --------
    >>> _demo_section("core").__name__
    'core_report'
    """
    target = dict(DEMO_SECTIONS)[name]
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def _cmd_demo(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.only or ()) - {name for name, _ in DEMO_SECTIONS})
    if unknown:
        names = [name for name, _ in DEMO_SECTIONS]
        raise ValueError(f"--only sections must be among {names}, got {unknown}")
    for name, _ in DEMO_SECTIONS:
        if args.only and name not in args.only:
            continue
        print(_demo_section(name)(args.seed))
        print()
    return 0


def _blas_facts() -> list[str]:
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415  (a core dependency)
    except ImportError:
        return ["  BLAS: threadpoolctl does not import (a core dependency): reinstall hsc-ref"]
    return [
        f"  BLAS: {p.get('internal_api')} {p.get('version')} ({p.get('threading_layer', '?')}), "
        f"{p.get('num_threads')} threads, arch {p.get('architecture', '?')}, {p.get('filepath')}"
        for p in threadpool_info()
        if p.get("user_api") == "blas"
    ]


OPTIONAL_PACKAGES: dict[str, tuple[str, ...]] = {
    "test": ("pytest", "hypothesis", "mpmath", "ruff", "array-api-strict"),
    "plot": ("matplotlib",),
    "image": ("Pillow",),
    "progress": ("tqdm",),
    "sweep": ("dask", "distributed"),
    "crosscheck": ("torch",),
    "gpu": ("cupy",),
}
"""The distributions each extra of ``pyproject.toml`` installs (``hsc-ref info`` lists them)."""

_CUPY_WHEELS = ("cupy", "cupy-cuda12x", "cupy-cuda11x", "cupy-cuda13x")


def _installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` from its metadata (nothing is imported)."""
    import importlib.metadata  # noqa: PLC0415  (only info needs it)

    for name in _CUPY_WHEELS if distribution == "cupy" else (distribution,):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(name)
    return None


def _extras_facts() -> list[str]:
    """One line per extra: each package's installed version, or ``missing``."""
    lines = ["Extras (pip install 'hsc-ref[EXTRA]'):"]
    for extra, packages in OPTIONAL_PACKAGES.items():
        found = [(p, _installed_version(p)) for p in packages]
        listed = ", ".join(f"{p} {v}" if v else f"{p} missing" for p, v in found)
        state = "installed" if all(v for _, v in found) else "not installed"
        lines.append(f"  {extra}: {state} ({listed})")
    return lines


def _cmd_info(args: argparse.Namespace) -> int:
    import importlib.metadata  # noqa: PLC0415  (the command's own imports, see the module doc)

    import numpy as np  # noqa: PLC0415
    import scipy  # noqa: PLC0415

    lines = [
        f"hsc_ref {__version__}",
        f"  Python {platform.python_version()} on {platform.platform()}",
        f"  numpy {np.__version__}, scipy {scipy.__version__}, "
        f"autograd {importlib.metadata.version('autograd')}",
        *_blas_facts(),
        *_extras_facts(),
        "Tolerance policy (scipy.linalg.pinvh): eigenvalue lam is kept when "
        "|lam| > atol + rtol * max|lam|;",
        "  defaults atol = 0, rtol = n * eps(dtype) (float64 eps = 2.2e-16, float32 eps = 1.2e-7);",
        "  negative tolerances raise; symmetric input is checked with "
        "max|H - H.T| <= sqrt(eps) * max|H|, then symmetrized.",
    ]
    print("\n".join(lines))
    return 0


def _parse_params(items: Sequence[str] | None) -> dict[str, float]:
    """``["mu=0.1", ...]`` to ``{"mu": 0.1}``; each item must be NAME=NUMBER, names unique."""
    params: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name.isidentifier() or number is None:
            raise ValueError(f"--param must be NAME=NUMBER (e.g. mu=0.1), got {item!r}")
        if name in params:
            raise ValueError(f"--param {name} must be given once, got it twice")
        params[name] = number
    return params


def _cmd_correct(args: argparse.Namespace) -> int:
    from hsc_ref.lab._correct_files import correct_to_folder  # noqa: PLC0415  (imported on use)

    summary = correct_to_folder(
        args.matrix,
        args.out,
        method=args.method,
        params=_parse_params(args.param),
        atol=args.atol,
        rtol=args.rtol,
        grad=args.grad,
        lr=args.lr,
        overwrite=args.force,
        symmetry_rtol=args.symmetry_rtol,
    )
    print(json.dumps(summary, indent=2))  # stdout holds the JSON only: | python -m json.tool
    out = os.path.join(args.out, "")
    print(f"wrote {out}correction.npz and {out}summary.json", file=sys.stderr)
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help=_HELP["demo"])
    demo.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    demo.add_argument(
        "--only",
        nargs="*",
        metavar="SECTION",
        help="run only these sections: " + ", ".join(n for n, _ in DEMO_SECTIONS),
    )
    demo.set_defaults(func=_cmd_demo)


def _add_info(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("info", help=_HELP["info"]).set_defaults(func=_cmd_info)


def _add_correct(sub: argparse._SubParsersAction) -> None:
    corr = sub.add_parser("correct", help=_HELP["correct"])
    corr.add_argument("matrix", help="symmetric matrix H as .npy (no pickles)")
    corr.add_argument("--grad", help="gradient g as .npy: also write the HSC step")
    corr.add_argument("--lr", type=float, default=1.0, help="step size (default 1)")
    corr.add_argument("--method", default="hsc", help="correction name (default hsc)")
    corr.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="parameter of the correction, e.g. --method damped --param mu=0.1 (repeatable)",
    )
    corr.add_argument("--atol", type=float, default=0.0, help="absolute cutoff (default 0)")
    corr.add_argument("--rtol", type=float, default=None, help="relative cutoff (default n*eps)")
    corr.add_argument(
        "--symmetry-rtol",
        type=float,
        default=None,
        help="accepted max|H - H.T| / max|H| before symmetrizing (default sqrt(eps))",
    )
    corr.add_argument("--out", required=True, help="output folder")
    corr.add_argument("--force", action="store_true", help="replace existing output files")
    corr.set_defaults(func=_cmd_correct)


# The applications' subcommands: each module is imported only when its command runs.
def _add_gan(sub: argparse._SubParsersAction) -> None:
    from hsc_ref.gan import cli as gan_cli  # noqa: PLC0415

    gan_cli.add_parser(sub)


def _add_golden(sub: argparse._SubParsersAction) -> None:
    from hsc_ref.golden import cli as golden_cli  # noqa: PLC0415

    golden_cli.add_parser(sub)


def _add_style(sub: argparse._SubParsersAction) -> None:
    from hsc_ref.style import cli as style_cli  # noqa: PLC0415

    style_cli.add_parser(sub)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    from hsc_ref.lab.sweep import cli as sweep_cli  # noqa: PLC0415

    sweep_cli.add_parser(sub)


class Subcommand(NamedTuple):
    """One ``hsc-ref`` subcommand: its name, its one-line help, the function that adds it."""

    name: str
    help: str
    add: Callable[[argparse._SubParsersAction], None]


_HELP = {
    "demo": "run the demonstration (a few minutes at most)",
    "info": "versions, BLAS, installed extras and the tolerance policy",
    "correct": "correct a matrix read from a .npy file",
    "gan": "train a small MLP GAN with the HSC step or a comparator",
    "golden": "golden reference files and their checker",
    "style": "Gram-matrix style transfer with exact pixel Hessians",
    "sweep": "run a sweep of gan/style runs on Dask, or rebuild a report",
}

SUBCOMMANDS: tuple[Subcommand, ...] = tuple(
    Subcommand(name, _HELP[name], add)
    for name, add in (
        ("demo", _add_demo),
        ("info", _add_info),
        ("correct", _add_correct),
        ("gan", _add_gan),
        ("golden", _add_golden),
        ("style", _add_style),
        ("sweep", _add_sweep),
    )
)
"""The subcommands of ``hsc-ref``; ``hsc-ref --help`` lists their help without importing them."""


EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_REFUSED = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_CHECKS_FAILED: "checks failed (hsc-ref golden check: a result outside its tolerance)",
    EXIT_REFUSED: "usage error or refused input: one line on stderr, no traceback",
    EXIT_INTERNAL: "internal error: a bug in hsc_ref; the traceback is kept",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); a checkpointing run wrote its checkpoint first",
    EXIT_BROKEN_PIPE: "stdout was closed early (e.g. piped into head); nothing is printed",
}
"""Exit status of ``hsc-ref`` and what it means (``docs/usage.md`` shows this table)."""


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_REFUSED, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _check_options(args: argparse.Namespace) -> None:
    """Checks every command shares: seeds are non-negative, no list names a value twice."""
    for dest, value in vars(args).items():
        if (dest == "seed" or dest.endswith("_seed")) and isinstance(value, int) and value < 0:
            raise ValueError(f"{dest} must be a non-negative integer, got {value}")
        if isinstance(value, list):
            twice = sorted({v for v in value if value.count(v) > 1})
            if twice:
                raise ValueError(f"{dest} must name each value once, got {twice[0]!r} twice")


def _option_names(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """``{dest: "--option"}`` of the options of the (sub)commands ``args`` was parsed with."""
    names: dict[str, str] = {}
    current: argparse.ArgumentParser | None = parser
    while current is not None:
        nested = None
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                nested = action.choices.get(getattr(args, action.dest, None))
            elif action.option_strings and action.dest != "help":
                names[action.dest] = max(action.option_strings, key=len)
        current = nested
    return names


def _in_option_terms(message: str, options: dict[str, str]) -> str:
    """A library message in the command line's terms: ``n_eval must`` -> ``--n-eval must``.

    A message that starts with a parameter's name gets the option's name; multi-word names
    (``symmetry_rtol``) are replaced wherever they stand.

    Examples
    --------
    >>> _in_option_terms("seed must be a non-negative integer, got -1", {"seed": "--seed"})
    '--seed must be a non-negative integer, got -1'
    >>> _in_option_terms("raise symmetry_rtol", {"symmetry_rtol": "--symmetry-rtol"})
    'raise --symmetry-rtol'
    """
    message = " ".join(line.strip() for line in message.splitlines() if line.strip())
    head = re.match(r"(\w+)(?= must\b| = )", message)
    if head and head.group(1) in options:
        message = options[head.group(1)] + message[head.end(1) :]
    for dest, option in options.items():
        if "_" in dest:
            message = re.sub(rf"(?<![-\w]){dest}\b", option, message)
    return message


def _is_refusal(exc: BaseException) -> bool:
    """Bad values, missing or unreadable files, refused sizes: the user's input, not a bug.

    The boundary states a refusal as a ``ValueError`` (hsc_ref's own error types derive from
    it), an ``OSError`` (a missing file, an existing output), an ``ImportError`` (a missing
    extra), a ``FloatingPointError`` (a result that does not fit in floating point) or hsc_ref's
    own ``MemoryError``. Everything else is a bug, ``TypeError`` included: the command line
    hands the library only values it parsed and arrays it checked when reading them.
    """
    if type(exc) is MemoryError:  # hsc_ref's own size checks (NumPy's allocator subclasses it)
        return True
    if type(exc).__name__ == "DecompressionBombError":  # Pillow's limit, should it escape
        return True
    return isinstance(exc, (ValueError, OSError, ImportError, FloatingPointError))


def _failure(command: str, exc: Exception, options: dict[str, str]) -> int:
    """Print what went wrong and return the exit status (:data:`EXIT_CODES`)."""
    if isinstance(exc, BrokenPipeError):  # the reader went away: say nothing more
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    name = f"hsc-ref {command}" if command else "hsc-ref"
    if _is_refusal(exc):
        print(f"{name}: error: {_in_option_terms(str(exc), options)}", file=sys.stderr)
        return EXIT_REFUSED
    traceback.print_exception(exc)
    print(
        f"{name}: internal error ({type(exc).__name__}): a bug in hsc_ref; please "
        f"report it with the traceback above",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``hsc-ref`` argument parser, with the subcommands of :data:`SUBCOMMANDS`.

    Parameters
    ----------
    commands : sequence of str, optional
        The subcommands to build in full (their modules are imported); the others are listed
        with their help only, and their options are left to ``parse_known_args``. Default: all.

    Returns
    -------
    argparse.ArgumentParser
        The parser; ``parse_args`` sets ``command`` and, for a full subcommand, ``func``.

    Examples
    --------
    >>> build_parser().parse_args(["demo", "--only", "core"]).only
    ['core']
    >>> build_parser(commands=()).parse_known_args(["gan", "--steps", "3"])[0].command
    'gan'
    """
    parser = _OneLineParser(
        prog="hsc-ref",
        description="Reference implementation of the Hessian singularity correction.",
    )
    parser.add_argument("--version", action="version", version=f"hsc_ref {__version__}")
    parser.add_argument(
        "--blas-threads",
        metavar="N|auto|default",
        help="threads per BLAS pool (default auto: 1 for small matrices; env HSC_REF_BLAS_THREADS)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in SUBCOMMANDS:
        if commands is None or command.name in commands:
            command.add(sub)
        else:  # named with its help; its options are parsed once it is built
            sub.add_parser(command.name, help=command.help, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hsc-ref`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    The statuses are :data:`EXIT_CODES`: 0 success, 1 checks failed, 2 a usage error or
    refused input (bad values, missing or unreadable files, existing outputs, sizes that do
    not fit in memory, options that do not apply: one line on stderr, naming the option), 3 an
    internal error (the traceback is printed), 130 interrupted (at any point, start-up
    included), 141 stdout closed early.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name, e.g. ``["correct", "H.npy", "--out", "out"]``.

    Returns
    -------
    int
        The exit status (:data:`EXIT_CODES`).

    Examples
    --------
    >>> main(["correct", "no-such-file.npy", "--out", "out"])
    2
    """
    with _watching_interrupts() as interrupts:
        return _run(argv, interrupts)


def _run(argv: Sequence[str] | None, interrupts: _Interrupts) -> int:
    """:func:`main`'s body, with ``interrupts`` telling whether a Ctrl-C has come."""
    command, parser, args = "", None, None
    try:
        # The command's name from a parser that imports nothing; then its own parser, whose
        # modules (NumPy, SciPy, autograd, ...) load here, where Ctrl-C is already handled.
        command = build_parser(commands=()).parse_known_args(argv)[0].command
        parser = build_parser(commands=(command,))
        args = parser.parse_args(argv)
        _check_options(args)
        from hsc_ref.lab import _threads  # noqa: PLC0415  (imports NumPy)

        with _threads.for_command(args):  # small-matrix work: one BLAS thread per pool
            status = int(args.func(args))
        if sys.stdout is not None:  # None when started with stdout closed (>&-)
            sys.stdout.flush()  # a closed pipe (| head) shows here, not at interpreter exit
        return status
    except SystemExit as exc:  # --help, --version (0); a usage error, in one line (2)
        return exc.code if isinstance(exc.code, int) else EXIT_REFUSED
    except KeyboardInterrupt as exc:  # a checkpointing run says where it stopped
        return _interrupted(command, str(exc))
    except Exception as exc:  # every failure gets its status and its line
        if interrupts.seen or _raised_by_an_interrupt(exc):  # e.g. an extension's error
            return _interrupted(command, "")
        names = _option_names(parser, args) if parser is not None and args is not None else {}
        return _failure(command, exc, names)


class _Interrupts:
    """Python's own SIGINT behaviour (raise ``KeyboardInterrupt``), remembering that one came.

    A Ctrl-C while a compiled extension imports can come back as that extension's own error,
    with nothing of the interrupt left in its chain (NumPy's ``ImportError`` from
    ``PyCapsule_Import``): the flag still says it was one.
    """

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, signum: int, frame: object) -> NoReturn:
        self.seen = True
        raise KeyboardInterrupt


@contextlib.contextmanager
def _watching_interrupts():
    """:class:`_Interrupts` as the SIGINT handler while :func:`main` runs, where Python's
    default handler is the one in place (a caller's own handler is left alone)."""
    interrupts = _Interrupts()
    watch = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if watch:
        signal.signal(signal.SIGINT, interrupts)
    try:
        yield interrupts
    finally:
        if watch:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _interrupted(command: str, message: str) -> int:
    """Print the one line of a Ctrl-C (a checkpointing run's says where it stopped): 130."""
    name = f"hsc-ref {command}" if command else "hsc-ref"
    print(f"{name}: {message or 'interrupted'}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _raised_by_an_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised from a ``KeyboardInterrupt`` (its cause or context chain).

    A Ctrl-C while a compiled extension initializes can surface as the extension's own
    error (SciPy's HiGHS module raises ``ImportError: initialization failed`` from it).

    Examples
    --------
    >>> try:
    ...     try:
    ...         raise KeyboardInterrupt
    ...     except KeyboardInterrupt as interrupt:
    ...         raise ImportError("initialization failed") from interrupt
    ... except ImportError as exc:
    ...     _raised_by_an_interrupt(exc), _raised_by_an_interrupt(ValueError("x"))
    (True, False)
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
