"""The pages people use: the viewer page and the host console (templates, static files, sessions).

``WebPlugin`` wires them into the app; see ``connection/session.py`` for the host's cookie and
``csrf.py`` for which requests must carry a CSRF token.
"""
