"""Testing helpers that ship with chroma-async.

- :class:`MockTransport`: drive a client from a function in your own unit tests.
- :mod:`chroma_async.testing.conformance`: the behaviour suite every transport passes;
  a transport author subclasses its classes and provides one fixture.
"""

from chroma_async.testing.mock import MockTransport

__all__ = ["MockTransport"]
