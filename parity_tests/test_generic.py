"""The generic parity tests, generated from the engine's own plan (the one `rosetta parity`
runs): one per backend x concept x case x dtype x device, ids like
[tf-softmax-overflow-float32-cpu]. Adding a concept or a case to shared/concepts/ adds its
tests here; nothing in this file names a concept."""
import pytest

from parity_tests.conftest import param
from shared import backends, parity
from shared.concepts import all_concepts

# every device a backend can have: a test for a device this machine lacks is skipped, naming it
TASKS = parity.plan(all_concepts(), backends.BACKEND_NAMES, parity.DTYPES, backends.DEVICES)


@pytest.mark.parametrize("task", [param(task, id=task.id, backend=task.backend, device=task.device,
                                        group=f"{task.concept.name}-{task.case.name}") for task in TASKS])
def test_parity(task):
    records = parity.run_task(task)
    assert records, f"{task.id}: the engine produced no comparison"
    failures = [f"{r.check}: abs {r.max_abs_err} rel {r.max_rel_err} (atol {r.atol}, rtol {r.rtol}) {r.note}"
                for r in records if not r.passed]
    assert not failures, "\n".join(failures)
