import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/naive.py

PAPER_STRUCTURE = dict(L=8.5, W=5.5, V=4160.0, m_well=0.86, m_barrier=1.0)
"""The paper's structure in the kernels' argument names (docs/model.md §1)."""


@pytest.fixture(scope="session")
def paper_structure():
    return dict(PAPER_STRUCTURE)
