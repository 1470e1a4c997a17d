"""Cell specs: the families' size limits and clear errors."""

import pytest

from harness.cells.spec import CELLS_DIR, load_cell_spec
from harness.errors import LabError


@pytest.mark.parametrize("path", sorted(CELLS_DIR.glob("*.json5")), ids=lambda p: p.stem)
def test_every_committed_spec_loads_within_its_family_limits(path):
    spec = load_cell_spec(path.stem)
    assert spec.name == path.stem and spec.family in ("mlp", "gru", "table")


def _write(tmp_path, text):
    p = tmp_path / "cell.json5"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('family: "transformer"', "family"),
        ('family: "mlp", hidden: [64]', "hidden"),
        ('family: "mlp", hidden: [8, 8, 8, 8]', "hidden"),
        ('family: "gru", hidden: 32', "hidden"),
        ('family: "mlp", loss: {kind: "l7"}', "loss.kind"),
        ('family: "mlp", input_range_v: [1, -1]', "input_range_v"),
        ('family: "mlp", colour: "red"', "(root)"),
    ],
)
def test_bad_specs_name_the_field(tmp_path, body, field):
    path = _write(tmp_path, f'{{name: "x", fixture: "common-cathode-12ax7", {body}}}')
    with pytest.raises(LabError, match=rf"cell.json5: field '{__import__('re').escape(field)}'"):
        load_cell_spec(path)


def test_unknown_cell_lists_the_known_ones():
    with pytest.raises(LabError, match="known cells: .*common-cathode-12ax7-mlp"):
        load_cell_spec("no-such-cell")
