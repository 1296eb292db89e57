"""The allocator service."""
