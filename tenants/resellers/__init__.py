"""Resellers and agents: who brings an ISP its subscribers."""
