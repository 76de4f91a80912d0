"""Great Expectations, imported in one place with its INFO chatter (hundreds of lines at import) turned down."""

import logging

logging.getLogger("great_expectations").setLevel(logging.WARNING)

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402

__all__ = ["gx", "gxe"]
