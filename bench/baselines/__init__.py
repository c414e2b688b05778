"""The two servers collab is compared with: the bare ceiling and Django Channels."""
