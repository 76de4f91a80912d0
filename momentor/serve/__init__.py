"""``momentor serve``: the model over HTTP (:mod:`momentor.serve.app`)."""
