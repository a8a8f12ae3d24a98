"""Building blocks of ``s3.sync`` and ``s3.verify``, one job a module.

- ``location``: ``s3://bucket/prefix/`` parsing and the rules that keep keys under it.
- ``local_tree``: walking the source with gitignore-style filters and symlink rules.
- ``digests`` / ``hash_cache``: local SHA-256, MD5 and multipart forms, cached by stat.
- ``remote``: listing a prefix, reading its manifest, deciding "same content?".
- ``transfer``: uploads through boto3's transfer manager, deletes, progress.
- ``check``: the verification pass that re-reads the remote state.
"""
