{
  "targets": [
    {
      "target_name": "anchorlb_native",
      "sources": ["anchorlb_native.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
