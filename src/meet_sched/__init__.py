"""meet-sched: meetings as config files, stored in a database, published as ICS feeds and emailed."""

__version__ = "0.1.0"
