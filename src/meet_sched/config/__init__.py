"""Config files in, validated settings and meetings out (nothing here touches the database)."""

from .build import default_uid
from .loader import Config, Settings, load_config, load_settings, meeting_files

__all__ = ["Config", "Settings", "default_uid", "load_config", "load_settings", "meeting_files"]
