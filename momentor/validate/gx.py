"""Great Expectations, imported once, with its INFO chatter (hundreds of lines at import) turned down."""

import logging

logging.getLogger("great_expectations").setLevel(logging.WARNING)

import great_expectations as gx
import great_expectations.expectations as gxe

__all__ = ["gx", "gxe"]
