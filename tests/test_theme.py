"""The themes keep every control visible: a tickable list must show its boxes in both themes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QListWidget, QListWidgetItem

from workbench.gui.theme import apply_application_theme, get_theme


def _contrast(a: QColor, b: QColor) -> int:
    return max(abs(a.red() - b.red()), abs(a.green() - b.green()), abs(a.blue() - b.blue()))


@pytest.mark.parametrize("name", ["light", "dark"])
def test_check_boxes_in_lists_stand_out_from_the_list(qtbot, name: str) -> None:
    app = QApplication.instance()
    theme = get_theme(name)
    apply_application_theme(app, theme)
    try:
        view = QListWidget()
        qtbot.addWidget(view)
        item = QListWidgetItem("Fine-tuning baseline")
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Unchecked)
        view.addItem(item)
        view.resize(240, 60)
        view.show()
        qtbot.waitExposed(view)
        image = view.grab().toImage()
        box = view.visualItemRect(item)
        base = QColor(theme.background)
        # the unticked box is only its outline: its strongest pixel must differ from the list
        strongest = max(
            _contrast(image.pixelColor(x, y), base)
            for x in range(box.left() + 1, box.left() + 22)
            for y in range(box.top() + 1, box.bottom())
        )
        assert strongest >= 60, f"the check box outline is invisible in the {name} theme"
    finally:
        apply_application_theme(app, get_theme("light"))
