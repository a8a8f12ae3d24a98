"""What CI systems read: GitHub Actions outputs and annotations, and the job
matrix of a fleet (GitHub ``strategy.matrix``, GitLab ``parallel:matrix``)."""
