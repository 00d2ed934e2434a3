"""The waiting engine: how every wait of every mode is decided, and where the triggerer's waits meet.

- :mod:`.policy`: every decision of a wait (failure budget, deadline, the event, what ``soft_fail`` may skip);
- :mod:`.events`: the JSON-native events a wait ends with, and how they turn back into a value or an error;
- :mod:`.blocking`: the loop of an operator that waits in its worker slot;
- :mod:`.poller`: the triggerer's shared poller (one per connection and scope on an event loop);
- :mod:`.ownership`: when a trigger may cancel the remote job its task created.
"""
