"""State: the run store, the blob store (``blobs``) and where data lives (``config``)."""
