"""The chatbot's library: settings, AWS clients, model streaming, local answers.

This package runs inside the container next to ``chatbot_app.py``; it imports
nothing from opskit (the container holds only the app's own code).
"""
