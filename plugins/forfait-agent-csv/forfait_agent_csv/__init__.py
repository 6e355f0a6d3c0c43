"""forfait-agent-csv: CSV journals of practice software → canonical events, through profiles."""

from .adapter import CsvAdapter
from .profile import Profile, ProfileError, load_profile

__all__ = ["CsvAdapter", "Profile", "ProfileError", "load_profile"]
