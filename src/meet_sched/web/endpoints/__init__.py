"""The handlers: module-level functions of a request, one module per surface, each answering from
``request.app.state.web`` (:class:`~meet_sched.web.state.Web`)."""
