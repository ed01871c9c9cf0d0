"""Applications on top of the engine: the small standard services and the HTTP client.

- ``services``      the registry behind ``netstack up --services``; UDP echo and discard
- ``tcp_services``  TCP echo, discard, chargen and the HTTP status page
- ``http_client``   an HTTP/1.1 client over netstack's TCP (``netstack get``)
"""
