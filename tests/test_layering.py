"""The dependency direction of DESIGN.md: channels → tenants → platform; integrations
import nothing of the business code; platform never imports channels, except its web
registry (platform/web/registry.py), the one place where the app is assembled from the
areas and the channels."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "integrations": ("kiunga.platform", "kiunga.tenants", "kiunga.channels"),
    "tenants": ("kiunga.channels",),
    "platform": ("kiunga.channels",),
}


WIRING_POINT = ROOT / "platform" / "web" / "registry.py"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_import_against_the_dependency_direction(folder):
    offenders = []
    for path in (ROOT / folder).rglob("*.py"):
        if path == WIRING_POINT:
            continue
        for name in _imports(path):
            if name.startswith(FORBIDDEN[folder]):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_platform_folder_has_no_init_that_would_shadow_the_standard_library():
    assert not (ROOT / "platform" / "__init__.py").exists()
