"""The sweep service: grids from TOML configs, chunked runs on Dask, zarr stores, analysis."""
