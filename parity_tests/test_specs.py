"""Spec hygiene: names that resolve, signatures that match across the three packages,
overrides and skips that point at real cases, reasons that are written down; and one API in
the three packages: the same public functions, the same loss."""
import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

from parity_tests.conftest import param
from shared import backends, parity
from shared.concepts import all_concepts

CONCEPTS = all_concepts()
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("concept", CONCEPTS, ids=lambda c: c.name)
def test_spec_is_complete_and_consistent(concept):
    names = [case.name for case in concept.cases]
    assert len(names) == len(set(names)), "case names become test ids: they must be unique"
    assert concept.math and concept.japanese and concept.signature
    for skip in concept.skips:
        assert skip.case in names and skip.reason
    for override in concept.overrides:
        assert override.case in (None, *names) and override.tolerance.reason
    for case in concept.porting:
        assert case.summary and case.source


@pytest.mark.parametrize("concept", CONCEPTS, ids=lambda c: c.name)
@pytest.mark.parametrize("backend", [param(b, id=b, backend=b) for b in ["torch", "tf"]])
def test_same_name_same_signature_in_every_package(concept, backend):
    reference = inspect.signature(backends.get("numpy").impl(concept).forward)
    assert inspect.signature(backends.get(backend).impl(concept).forward) == reference


@pytest.mark.parametrize("concept", [c for c in CONCEPTS if c.differentiable], ids=lambda c: c.name)
def test_numpy_backward_takes_the_forward_arguments_after_dy(concept):
    impl = backends.get("numpy").impl(concept)
    forward = list(inspect.signature(impl.forward).parameters)
    backward = list(inspect.signature(impl.backward).parameters)
    assert backward == ["dy"] + forward


# ---- one API in three packages -------------------------------------------------------------

def _public(package: str) -> dict[str, dict[str, str]]:
    """{module: {public top-level name: "function" | "class"}} of an implementation package,
    read from the source (importing tf_impl would start TensorFlow)."""
    found = {}
    for path in sorted((ROOT / package).glob("[!_]*.py")):
        tree = ast.parse(path.read_text())
        found[path.stem] = {node.name: "class" if isinstance(node, ast.ClassDef) else "function"
                            for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                            and not node.name.startswith("_")}
    return found


PACKAGES = {name: _public(name) for name in backends.PACKAGES.values()}
SHARED_MODULES = sorted(set.intersection(*(set(modules) for modules in PACKAGES.values())))
# NumPy-only public functions the contract itself asks for: the hand-written backward of a
# function the three share (`<name>_backward`), and the hook through which the engine's
# finite-difference check differentiates a step with several losses (shared/training.py)
NUMPY_ONLY = {"numeric_losses"}


@pytest.mark.parametrize("module", SHARED_MODULES)
def test_a_module_in_all_three_packages_has_the_same_public_functions(module):
    # classes are each framework's own idiom (the book's layers in NumPy, nn.Module and
    # tf.Module in the frameworks), held to the functions by the parity engine's layer checks;
    # every function a reader can call exists under the same name in all three
    functions = {package: {name for name, kind in modules[module].items() if kind == "function"}
                 for package, modules in PACKAGES.items()}
    shared = set.intersection(*functions.values())
    numpy_extra = {name for name in functions["numpy_impl"] - shared
                   if name in NUMPY_ONLY or (name.endswith("_backward") and name[:-len("_backward")] in shared)}
    odd = {package: sorted(names - shared - (numpy_extra if package == "numpy_impl" else set()))
           for package, names in functions.items()}
    assert not any(odd.values()), f"{module}: public functions not in all three packages: {odd}"


def test_bits_model_class_has_one_name_in_torch_and_tf():
    assert PACKAGES["torch_impl"]["bit"].get("ResNetV2") == PACKAGES["tf_impl"]["bit"].get("ResNetV2") == "class"


@pytest.mark.parametrize("concept", [c for c in CONCEPTS if c.steps and c.name != "gan_train_step"],
                         ids=lambda c: c.name)
@pytest.mark.parametrize("backend", [param(b, id=b, backend=b) for b in ["torch", "tf"]])
def test_a_models_loss_takes_canonical_params_in_every_package(concept, backend):
    # loss(params, batch, hyper): the function NumPy's gradient check differentiates, the same
    # in torch and TF (their models built from the canonical params); float64, the first batch
    inputs = parity.upcast(concept.cases[0].inputs())
    params, batch, hyper = inputs["params"], inputs["batches"][0], inputs["hyper"]
    want = float(backends.module("numpy", concept).loss(params, batch, hyper))
    b = backends.get(backend)
    with b.scope("cpu"):
        got = b.to_numpy(backends.module(backend, concept).loss(b.convert(params, "cpu"), b.convert(batch, "cpu"),
                                                                hyper))
    # float64 sums of a few hundred terms in another order; the step parity checks bound
    # loss@1 at the same 1e-12 relative (shared/tolerances.py's float64 forward rtol)
    np.testing.assert_allclose(float(got), want, rtol=1e-12, atol=1e-14)
