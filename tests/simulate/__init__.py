"""Tests of ashiato.simulate."""
