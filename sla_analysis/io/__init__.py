"""Reading exports into the data contract: readers, mapping files, validation, the validated cache,
the engine connection, adapters for exports a mapping cannot express, and the sample CRM."""
