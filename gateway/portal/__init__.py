"""The self-service privacy portal: the data subject sees, decides and takes their data.

Domain modules (tokens, sessions, the subject's choices, views of their data) never import
Starlette; the server-rendered pages live in `gateway.portal.web`.
"""
