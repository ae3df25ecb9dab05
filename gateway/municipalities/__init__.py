"""Municipality profiles: the decrees' municipality-specific rules, as data files."""

from gateway.municipalities.loader import ProfileError, load_profiles
from gateway.municipalities.profile import Profile, Role, System

__all__ = ["Profile", "ProfileError", "Role", "System", "load_profiles"]
