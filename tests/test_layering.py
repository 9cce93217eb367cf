"""The dependency direction (README.md, "Layout"; docs/architecture.md, "Areas"):
channels → tenants → platform; integrations import nothing of the business code; the
kernel (platform/) imports no area and no channel, without exception — it assembles them
from the manifests listed in pyproject.toml (kiunga.platform.areas)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "integrations": ("kiunga.platform", "kiunga.tenants", "kiunga.channels"),
    "tenants": ("kiunga.channels",),
    "platform": ("kiunga.tenants", "kiunga.channels"),
}


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
        for name in _imports(path):
            if name.startswith(FORBIDDEN[folder]):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def _strings_in_code(path: Path) -> list[str]:
    """String constants other than docstrings and comments."""
    tree = ast.parse(path.read_text(), filename=str(path))
    documented = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in documented
    ]  # fmt: skip


def test_the_kernel_names_no_area_even_in_a_string():
    # importlib.import_module("kiunga.tenants…") would escape the check above.
    offenders = [
        f"{path.relative_to(ROOT)}: {text!r}"
        for path in (ROOT / "platform").rglob("*.py")
        for text in _strings_in_code(path)
        if FORBIDDEN["platform"][0] in text or FORBIDDEN["platform"][1] in text
    ]
    assert offenders == []


def test_the_documents_this_test_points_at_exist():
    assert "## Layout" in (ROOT / "README.md").read_text()
    assert "## Areas" in (ROOT / "docs" / "architecture.md").read_text()


def test_platform_folder_has_no_init_that_would_shadow_the_standard_library():
    assert not (ROOT / "platform" / "__init__.py").exists()
