"""The DashStream protobuf schema (``dashstream.proto``) and its generated message classes."""
