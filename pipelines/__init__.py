"""End-to-end campaigns: resumable runs of whole studies from YAML recipes."""
