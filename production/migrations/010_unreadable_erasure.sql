-- An unreadable message (one whose order id is missing or broken) keeps its problems' wording for
-- operators, and validation problems can quote the orderer's e-mail or a holder's birth date: the
-- wording goes after the rejected orders' retention, as theirs does, and this marks it done.
ALTER TABLE unreadable_messages ADD COLUMN problems_erased_at timestamptz;
