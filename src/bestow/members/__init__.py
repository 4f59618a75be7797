"""Members of a merchant's programme: their identifiers (``identifiers``), the member service
(``service``) and the bulk CSV import (``importer``)."""
