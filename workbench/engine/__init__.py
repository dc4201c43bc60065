"""The Qt-free training engine: trainer loop, evaluation protocol and run folders."""
