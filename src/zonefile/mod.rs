//! RFC 1035 §5 master files: parsing into [`ZoneRecord`]s and printing them back.
