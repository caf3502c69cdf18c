"""Functions called by `uses: tasks/<name>@<tag>` in tests/conformance/conf/call.yml,
written for ddeutil-workflow: wfr runs them unchanged."""
from ddeutil.workflow import tag


@tag("v1", alias="add")
def add(a: int, b: int) -> dict:
    return {"sum": a + b}


@tag("v2", alias="add")
def add_more(a: int, b: int = 100) -> dict:
    return {"sum": a + b, "nested": {"items": [a, b], "pair": (a, b)}}


@tag("v1")
def greet(name: str, _exec: str = "hello") -> dict:
    print(f"greeting {name}")
    return {"text": f"{_exec} {name}"}


@tag("v1", alias="takes-anything")
def takes_anything(first, **kwargs) -> dict:
    return {"first": first, "others": sorted(kwargs)}


@tag("v1", alias="not-a-dict")
def not_a_dict() -> list:
    return [1, 2]


@tag("v1", alias="fails")
def fails(code: int) -> dict:
    raise RuntimeError(f"failed with code {code}")


def helper_without_tag():
    return {"never": "registered"}
