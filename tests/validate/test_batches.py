"""Column batches: every expectation sees only the columns it reads; big columns get a batch of their own."""

import numpy as np
import pandas as pd

from momentor.validate.gx import gxe
from momentor.validate.runner import column_batches
from momentor.validate.tables import ValidationTable


def test_batches_hold_only_the_read_columns_and_isolate_wide_ones():
    frame = pd.DataFrame(
        {
            "instruction_id": ["a", "b"],
            "score": [0.1, 0.2],
            "end": [2.0, 3.0],
            "start": [1.0, 2.0],
            "conversations": ["x" * 1000, "y" * 1000],
            "unused": [1, 2],
        }
    )
    table = ValidationTable("instructions", frame, list(frame.columns), True)
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="score"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start"),
        gxe.ExpectColumnValuesToMatchRegex(column="conversations", regex="x"),
        gxe.ExpectColumnValuesToNotBeNull(column="conversations"),
    ]
    batches = {
        name: (list(batch.columns), len(group))
        for name, batch, group in column_batches(table, expectations, 1000)
    }
    assert batches == {
        "instructions": (["score", "end", "start"], 2),
        "instructions.conversations": (["conversations"], 2),
    }
    small = column_batches(table, expectations, wide_bytes=10**9)
    assert [(name, list(batch.columns)) for name, batch, _ in small] == [
        ("instructions", ["score", "end", "start", "conversations"])
    ]
    # rows keep their positions, so failing rows are found again in the table
    assert np.array_equal(small[0][1].index, frame.index)
