raise RuntimeError("_lib is not a route folder and must never be imported by the loader")
