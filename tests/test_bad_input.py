"""Bad input to every public entry point raises ValueError/TypeError naming the rule and value.

The table is built from three lists: bad matrices, bad vectors and bad scalars (tolerances,
step sizes, names, correction parameters), each crossed with the entry points that take them.
"""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
import pytest

from hsc_ref.corrections import (
    clip,
    correct,
    damped,
    fill,
    get_correction,
    literal_hsc,
    literal_hsc_nonsymmetric,
)
from hsc_ref.derivatives import gradient, hessian, hvp, value_grad_hessian
from hsc_ref.layout import flatten, layers_from_torch_linear, layers_to_torch_linear
from hsc_ref.rules import adam, bfgs, newton_type, sgd, sr1
from hsc_ref.spectral import decompose
from hsc_ref.steps import HSC_ROUTES, hsc_step, spectral_step

N = 3
H_OK = np.diag([2.0, 0.0, -1.0])
G_OK = np.array([1.0, -1.0, 0.5])
SPECTRUM = decompose(H_OK)


def _square(x: float) -> float:
    return anp.sum(x**2, axis=-1)


def _with(entry: float) -> np.ndarray:
    H = H_OK.copy()
    H[1, 1] = entry
    return H


_REAL_ARRAY = r"must be a real floating-point array"

# (id, bad matrix, error, message pattern with {name} for the argument's name)
BAD_MATRICES = [
    ("nan", _with(np.nan), ValueError, r"{name} must be finite, got NaN or inf"),
    ("+inf", _with(np.inf), ValueError, r"{name} must be finite, got NaN or inf"),
    ("-inf", _with(-np.inf), ValueError, r"{name} must be finite, got NaN or inf"),
    ("non-square", np.ones((2, 3)), ValueError, r"{name} must be square, got shape \(2, 3\)"),
    ("1-D", np.ones(3), ValueError, r"{name} must be 2-D, got 1-D array of shape \(3,\)"),
    ("3-D", np.ones((2, 2, 2)), ValueError, r"{name} must be 2-D, got 3-D array"),
    ("empty", np.empty((0, 0)), ValueError, r"{name} must not be empty, got shape \(0, 0\)"),
    ("complex", H_OK + 0j, TypeError, r"{name} " + _REAL_ARRAY + r".*got dtype complex128"),
    ("bool", H_OK > 0, TypeError, r"{name} " + _REAL_ARRAY + r".*got dtype bool"),
    ("object", H_OK.astype(object), TypeError, r"{name} " + _REAL_ARRAY + r".*got dtype object"),
    ("strings", np.full((2, 2), "1"), TypeError, r"{name} " + _REAL_ARRAY + r".*got dtype <U1"),
    ("str", "eye(3)", TypeError, r"{name} " + _REAL_ARRAY + r".*got (str|dtype <U6)"),
    ("None", None, TypeError, r"{name} " + _REAL_ARRAY + r".*got (NoneType|dtype object)"),
    ("ragged", [[1.0, 2.0], [3.0]], TypeError, r"{name} " + _REAL_ARRAY),
    ("float16", H_OK.astype(np.float16), TypeError, r"{name} " + _REAL_ARRAY + r".*float16"),
]
if np.finfo(np.longdouble).bits > 64:  # a genuine extended type on this platform
    BAD_MATRICES.append(
        ("longdouble", H_OK.astype(np.longdouble), TypeError, r"{name} " + _REAL_ARRAY)
    )
NON_SYMMETRIC = (
    "non-symmetric",
    np.array([[1.0, 2.0], [0.0, 1.0]]),
    ValueError,
    r"{name} must be symmetric: max\|{name} - {name}\.T\| = 2 exceeds symmetry_rtol",
)

# entry points that take a symmetric matrix H
SYMMETRIC_ENTRY_POINTS = {
    "decompose": decompose,
    "correct": correct,
    "correct-damped": lambda H: correct(H, "damped", mu=0.5),
    **{
        f"hsc_step-{route}": (lambda H, route=route: hsc_step(H, np.ones(2), route=route))
        for route in HSC_ROUTES
    },
    "literal_hsc": literal_hsc,
    "newton_type.update": lambda H: newton_type().update(np.ones(2), None, hessian=H),
}


def _matrix_cases():
    for entry, call in SYMMETRIC_ENTRY_POINTS.items():
        for case_id, H, error, pattern in [*BAD_MATRICES, NON_SYMMETRIC]:
            if (entry, case_id) == ("newton_type.update", "None"):
                continue  # hessian=None means "no Hessian given": tested below
            yield pytest.param(call, H, error, pattern.format(name="H"), id=f"{entry}-{case_id}")
    for case_id, J, error, pattern in BAD_MATRICES:  # J may be non-symmetric
        yield pytest.param(
            literal_hsc_nonsymmetric, J, error, pattern.format(name="J"), id=f"nonsym-{case_id}"
        )


@pytest.mark.parametrize(("call", "H", "error", "match"), list(_matrix_cases()))
def test_bad_matrix_is_refused_with_named_rule(call, H, error, match):
    with pytest.raises(error, match=match):
        call(H)


# (id, bad vector, error, pattern) for a vector argument that must have length N
BAD_VECTORS = [
    ("nan", np.array([1.0, np.nan, 0.0]), ValueError, r"{name} must be finite, got NaN or inf"),
    ("+inf", np.array([1.0, np.inf, 0.0]), ValueError, r"{name} must be finite"),
    ("-inf", np.array([1.0, -np.inf, 0.0]), ValueError, r"{name} must be finite"),
    ("empty", np.empty(0), ValueError, r"{name} must"),
    ("complex", G_OK + 1j, TypeError, r"{name} " + _REAL_ARRAY + r".*complex128"),
    ("bool", G_OK > 0, TypeError, r"{name} " + _REAL_ARRAY + r".*bool"),
    ("object", G_OK.astype(object), TypeError, r"{name} " + _REAL_ARRAY + r".*object"),
    ("strings", np.array(["1", "2", "3"]), TypeError, r"{name} " + _REAL_ARRAY + r".*<U1"),
    ("float16", G_OK.astype(np.float16), TypeError, r"{name} " + _REAL_ARRAY + r".*float16"),
    ("3-D", np.ones((N, 1, 1)), ValueError, r"{name} must .*got .*\(3, 1, 1\)"),
    ("wrong-length", np.ones(N + 1), ValueError, r"{name} must .*\(3,\).*got .*\(4,\)"),
]

_rule = sgd(0.1)
VECTOR_ENTRY_POINTS = {
    **{
        f"hsc_step-{route}": ("g", lambda g, route=route: hsc_step(H_OK, g, route=route))
        for route in HSC_ROUTES
    },
    "spectral_step": ("g", lambda g: spectral_step(SPECTRUM, g)),
    "Spectrum.apply": ("v", lambda v: SPECTRUM.apply(SPECTRUM.eigenvalues, v)),
    "Spectrum.solve": ("b", SPECTRUM.solve),
    "gradient": ("x", lambda x: gradient(_square, x)),
    "hessian": ("x", lambda x: hessian(_square, x, batched=False)),
    "hessian-batched": ("x", lambda x: hessian(_square, x, batched=True)),
    "value_grad_hessian": ("x", lambda x: value_grad_hessian(_square, x)),
    "hvp-x": ("x", lambda x: hvp(_square, x, np.ones(N))),
    "hvp-v": ("v", lambda v: hvp(_square, np.ones(N), v)),
    "flatten": (r"params\[1\]", lambda p: flatten([np.ones(2), p])),
    "sgd.update": ("grad", lambda g: _rule.update(g, _rule.init(np.zeros(N)))),
    "adam.update": ("grad", lambda g: adam(0.1).update(g, adam(0.1).init(np.zeros(N)))),
    "newton_type.update": (
        "g(rad)?",  # the length is checked by spectral_step, which names it g
        lambda g: newton_type().update(g, newton_type().init(np.zeros(N)), hessian=H_OK),
    ),
    "sr1.update": (
        "grad( and params)?",
        lambda g: sr1().update(g, sr1().init(np.zeros(N)), params=np.ones(N)),
    ),
    "bfgs.update": (
        "grad( and params)?",
        lambda g: bfgs().update(g, bfgs().init(np.zeros(N)), params=np.ones(N)),
    ),
}
# entry points for which a case does not apply: flatten takes any shape; sgd has no length
# (a function of x defines its own length; sgd's state does not record one)
_NOT_APPLICABLE = {
    ("flatten", "3-D"),
    ("flatten", "wrong-length"),
    ("sgd.update", "wrong-length"),
    *(
        (entry, "wrong-length")
        for entry in ("gradient", "hessian", "hessian-batched", "value_grad_hessian", "hvp-x")
    ),
}


def _vector_cases():
    for entry, (name, call) in VECTOR_ENTRY_POINTS.items():
        for case_id, v, error, pattern in BAD_VECTORS:
            if (entry, case_id) in _NOT_APPLICABLE:
                continue
            yield pytest.param(call, v, error, pattern.format(name=name), id=f"{entry}-{case_id}")


@pytest.mark.parametrize(("call", "v", "error", "match"), list(_vector_cases()))
def test_bad_vector_is_refused_with_named_rule(call, v, error, match):
    with pytest.raises(error, match=match):
        call(v)


def test_sgd_update_refuses_a_matrix_gradient():
    with pytest.raises(ValueError, match=r"grad must be 1-D, got 2-D array of shape \(3, 3\)"):
        sgd(0.1).update(np.ones((N, N)), sgd(0.1).init(np.zeros(N)))


# --------------------------------------------------------------------------- scalars

_NON_NEGATIVE = r"{name} must be a finite non-negative number, got {value}"
BAD_TOLERANCES = [
    ("negative", -1e-3, ValueError, _NON_NEGATIVE),
    ("nan", math.nan, ValueError, _NON_NEGATIVE),
    ("+inf", math.inf, ValueError, _NON_NEGATIVE),
    ("-inf", -math.inf, ValueError, _NON_NEGATIVE),
    ("str", "1e-3", TypeError, r"{name} must be a real number, got str"),
    ("bool", True, TypeError, r"{name} must be a real number, got bool"),
    ("complex", 1e-3 + 0j, TypeError, r"{name} must be a real number, got complex"),
]

TOLERANCE_ENTRY_POINTS = {
    "decompose": (decompose, ("atol", "rtol", "symmetry_rtol")),
    "correct": (correct, ("atol", "rtol", "symmetry_rtol")),
    **{
        f"hsc_step-{route}": (
            lambda H, route=route, **kw: hsc_step(H, G_OK, route=route, **kw),
            ("atol", "rtol", "symmetry_rtol"),
        )
        for route in HSC_ROUTES
    },
    "literal_hsc": (literal_hsc, ("atol", "rtol")),
    "literal_hsc_nonsymmetric": (literal_hsc_nonsymmetric, ("atol", "rtol")),
    "newton_type": (lambda H, **kw: newton_type(**kw), ("atol", "rtol")),  # at construction
}


def _tolerance_cases():
    for entry, (call, names) in TOLERANCE_ENTRY_POINTS.items():
        for name in names:
            for case_id, value, error, pattern in BAD_TOLERANCES:
                match = pattern.format(name=name, value=_value_pattern(value))
                yield pytest.param(
                    call, {name: value}, error, match, id=f"{entry}-{name}-{case_id}"
                )


def _value_pattern(value: object) -> str:
    return r"-?inf" if isinstance(value, float) and math.isinf(value) else str(value)


@pytest.mark.parametrize(("call", "kwargs", "error", "match"), list(_tolerance_cases()))
def test_bad_tolerance_is_refused_with_named_rule(call, kwargs, error, match):
    with pytest.raises(error, match=match):
        call(H_OK, **kwargs)


BAD_LRS = [
    (0.0, ValueError, r"lr must be positive, got 0\.0"),
    (-0.1, ValueError, r"lr must be a finite non-negative number, got -0\.1"),
    (math.nan, ValueError, r"lr must be a finite non-negative number, got nan"),
    (math.inf, ValueError, r"lr must be a finite non-negative number, got inf"),
    ("0.1", TypeError, r"lr must be a real number, got str"),
]
LR_ENTRY_POINTS = {
    **{
        f"hsc_step-{route}": (lambda lr, route=route: hsc_step(H_OK, G_OK, lr=lr, route=route))
        for route in HSC_ROUTES
    },
    "spectral_step": lambda lr: spectral_step(SPECTRUM, G_OK, lr=lr),
    "sgd": sgd,
    "adam": adam,
    "newton_type": lambda lr: newton_type(lr=lr),
    "sr1": sr1,
    "bfgs": bfgs,
}


@pytest.mark.parametrize(
    ("call", "lr", "error", "match"),
    [
        pytest.param(call, lr, error, match, id=f"{entry}-{lr}")
        for entry, call in LR_ENTRY_POINTS.items()
        for lr, error, match in BAD_LRS
    ],
)
def test_bad_step_size_is_refused_with_named_rule(call, lr, error, match):
    with pytest.raises(error, match=match):
        call(lr)


_METHODS = (
    r"method must be one of \['clip', 'damped', 'fill', 'hsc', 'newton', 'saddle_free'\], got "
)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        pytest.param(lambda: correct(H_OK, "hcs"), ValueError, _METHODS + "'hcs'", id="correct"),
        pytest.param(lambda: correct(H_OK, None), ValueError, _METHODS + "None", id="correct-None"),
        pytest.param(lambda: get_correction("SR1"), ValueError, _METHODS + "'SR1'", id="get"),
        pytest.param(
            lambda: spectral_step(SPECTRUM, G_OK, "bfgs"), ValueError, _METHODS, id="spectral_step"
        ),
        pytest.param(lambda: newton_type("x"), ValueError, _METHODS + "'x'", id="newton_type"),
        pytest.param(
            lambda: hsc_step(H_OK, G_OK, route="fast"),
            ValueError,
            r"route must be one of \(.*'spectral'.*\), got 'fast'",
            id="hsc_step-route",
        ),
        pytest.param(
            lambda: hsc_step(H_OK, G_OK, route=None),
            ValueError,
            r"route must be one of .*got None",
            id="hsc_step-route-None",
        ),
    ],
)
def test_unknown_name_is_refused_with_the_choices(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        pytest.param(
            lambda: damped(-0.1), ValueError, r"mu must be .*non-negative.*-0\.1", id="damped-neg"
        ),
        pytest.param(
            lambda: damped(math.nan), ValueError, r"mu must be .*got nan", id="damped-nan"
        ),
        pytest.param(
            lambda: clip(0.0), ValueError, r"delta must be positive, got 0\.0", id="clip-0"
        ),
        pytest.param(lambda: clip(-1.0), ValueError, r"delta must be .*got -1\.0", id="clip-neg"),
        pytest.param(lambda: fill(0.0), ValueError, r"mu must be positive, got 0\.0", id="fill-0"),
        pytest.param(lambda: fill(-2.0), ValueError, r"mu must be .*got -2\.0", id="fill-neg"),
        pytest.param(
            lambda: correct(H_OK, "damped", mu=-1.0),
            ValueError,
            r"mu must be a finite non-negative number, got -1\.0",
            id="correct-damped-neg",
        ),
        pytest.param(
            lambda: correct(H_OK, "clip", delta=-1.0),
            ValueError,
            r"delta must be .*got -1\.0",
            id="correct-clip-neg",
        ),
        pytest.param(
            lambda: correct(H_OK, "damped"),
            TypeError,
            r"bad parameters for correction 'damped'.*missing.*'mu'",
            id="correct-damped-missing",
        ),
        pytest.param(
            lambda: correct(H_OK, "hsc", mu=1.0),
            TypeError,
            r"bad parameters for correction 'hsc'.*unexpected keyword argument 'mu'",
            id="correct-hsc-extra",
        ),
        pytest.param(
            lambda: spectral_step(SPECTRUM, G_OK, "fill", mu=-1.0),
            ValueError,
            r"mu must be .*got -1\.0",
            id="spectral_step-fill-neg",
        ),
        pytest.param(
            lambda: adam(0.1, b1=1.0), ValueError, r"b1 must be in \[0, 1\), got 1\.0", id="adam-b1"
        ),
        pytest.param(
            lambda: adam(0.1, b2=-0.5), ValueError, r"b2 must be .*got -0\.5", id="adam-b2"
        ),
        pytest.param(
            lambda: adam(0.1, eps=0.0), ValueError, r"eps must be positive, got 0\.0", id="adam-eps"
        ),
    ],
)
def test_bad_correction_or_rule_parameter_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        pytest.param(
            lambda: spectral_step(H_OK, G_OK),
            TypeError,
            r"spectrum must be a Spectrum \(from decompose\), got ndarray",
            id="spectral_step-matrix",
        ),
        pytest.param(
            lambda: SPECTRUM.apply(np.array([1.0, np.nan, 0.0]), G_OK),
            ValueError,
            r"values must be finite",
            id="apply-values-nan",
        ),
        pytest.param(
            lambda: SPECTRUM.apply(np.ones(2), G_OK),
            ValueError,
            r"values must have shape \(3,\), got \(2,\)",
            id="apply-values-shape",
        ),
        pytest.param(
            lambda: newton_type().update(G_OK, None),
            ValueError,
            r"hsc step needs hessian=, got None",
            id="newton-no-hessian",
        ),
        pytest.param(
            lambda: sr1().update(G_OK, sr1().init(np.zeros(N))),
            ValueError,
            r"needs params= .*got None",
            id="sr1-no-params",
        ),
        pytest.param(
            lambda: sr1().update(G_OK, sr1().init(np.zeros(N)), params=np.ones(2)),
            ValueError,
            r"params must have shape \(3,\) like x0, got \(2,\)",
            id="sr1-params-length",
        ),
        pytest.param(
            lambda: hvp(_square, np.ones(N), np.ones((N, 2))),
            ValueError,
            r"v must be 1-D, got shape \(3, 2\)",
            id="hvp-block",
        ),
        pytest.param(
            lambda: gradient(_square, np.ones((2, N))),
            ValueError,
            r"x must be 1-D, got 2-D",
            id="gradient-2d",
        ),
        pytest.param(
            lambda: hessian(lambda x: x**2, np.ones(N), batched=False),
            ValueError,
            r"fun must return a scalar, got a Hessian of shape \(3, 3, 3\)",
            id="hessian-vector-valued",
        ),
        pytest.param(
            lambda: flatten([]),
            ValueError,
            r"params must contain at least one array, got an empty nest \[\]",
            id="flatten-empty",
        ),
        pytest.param(
            lambda: flatten({"a": [], "b": ()}),
            ValueError,
            r"params must contain at least one array",
            id="flatten-empty-dict",
        ),
    ],
)
def test_other_bad_arguments_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("chunk_size", [0, -3, 1.5, True, "4"])
@pytest.mark.parametrize("batched", [False, True])
def test_bad_chunk_size_is_refused_on_either_route(chunk_size, batched):
    with pytest.raises(
        ValueError, match=f"chunk_size must be a positive integer, got {chunk_size!r}"
    ):
        hessian(_square, np.ones(N), batched=batched, chunk_size=chunk_size)


# --------------------------------------------------------------------------- layer converters

_W, _B = np.ones((3, 3)), np.zeros(3)  # square: valid in either layout


@pytest.mark.parametrize("convert", [layers_from_torch_linear, layers_to_torch_linear])
@pytest.mark.parametrize(
    ("layers", "error", "match"),
    [
        pytest.param(
            [], TypeError, r"layers must be a non-empty list of \(weight, bias\) pairs", id="empty"
        ),
        pytest.param({"W": _W}, TypeError, r"layers must be a non-empty list", id="dict"),
        pytest.param(
            [(_W,)],
            TypeError,
            r"layers\[0\] must be a \(weight, bias\) pair, got tuple",
            id="single",
        ),
        pytest.param(
            [_W], TypeError, r"layers\[0\] must be a \(weight, bias\) pair, got ndarray", id="array"
        ),
        pytest.param(
            [(np.ones(3), _B)], ValueError, r"layers\[0\] \w+ must be 2-D, got 1-D", id="1-D"
        ),
        pytest.param(
            [(np.ones((2, 2, 2)), _B)],
            ValueError,
            r"layers\[0\] \w+ must be 2-D, got 3-D",
            id="3-D",
        ),
        pytest.param(
            [(_W, np.zeros(7))],
            ValueError,
            r"layers\[0\] \w+ must have length .* got 7",
            id="bias-length",
        ),
        pytest.param(
            [(_W, np.zeros((3, 1)))], ValueError, r"layers\[0\] \w+ must be 1-D", id="bias-2-D"
        ),
        pytest.param([(_W * np.nan, _B)], ValueError, r"layers\[0\] \w+ must be finite", id="nan"),
        pytest.param(
            [(_W.astype(complex), _B)], TypeError, r"layers\[0\] \w+ must be a real", id="complex"
        ),
        pytest.param([(_W > 0, _B)], TypeError, r"layers\[0\] \w+ must be a real.*bool", id="bool"),
    ],
)
def test_layer_converters_refuse_bad_layers(convert, layers, error, match):
    with pytest.raises(error, match=match):
        convert(layers)
