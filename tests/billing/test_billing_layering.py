"""Billing knows nothing of the areas that react to money: they register hooks with it."""

import ast
from pathlib import Path

import kiunga.tenants.billing as billing

REACTING_AREAS = ("kiunga.tenants.services", "kiunga.tenants.lifecycle", "kiunga.tenants.reports")


def test_billing_imports_no_area_that_depends_on_it():
    offenders = []
    for path in Path(billing.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(REACTING_AREAS)]
    assert offenders == []
