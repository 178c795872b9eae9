-- resize: ARGV prefix, max_conversations, max_responses, journal_size, journal_bytes.
evict_conversations(tonumber(ARGV[2]))
evict_responses(tonumber(ARGV[3]))
trim_journal(tonumber(ARGV[4]), tonumber(ARGV[5]))
return 0
