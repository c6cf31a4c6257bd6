"""identity: the output activation for regression (恒等関数)."""
from shared import lazy
from shared.concepts._elementwise import error_cases, standard_cases, validate_float
from shared.spec import Concept, Oracle


def validate(x):
    validate_float("identity", x)


CONCEPT = Concept(
    name="identity",
    module="activations",
    family="activations",
    lesson=7,
    math="f(x) = x;  f'(x) = 1",
    japanese="恒等関数",
    signature="identity(x) -> a copy of x",
    differentiable=("x",),
    cases=standard_cases(),
    error_cases=error_cases("identity"),
    oracles=(
        Oracle("torch", "torch.nn.Identity", lambda x: lazy.torch().nn.Identity()(x)),
        Oracle("tf", "tf.identity", lambda x: lazy.tf().identity(x)),
    ),
)
