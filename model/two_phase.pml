/*
 * txc's two-phase commit with presumed abort (docs/protocol.md), coordinator and 2 participants.
 *
 * Failure model: any process crashes at any step and restarts (CRASHES in all); up to LOSSES
 * messages are lost and DUPS delivered twice; every message may be delayed and reordered (the
 * network is a set of messages in flight, delivered in any order). A crash keeps what is durable
 * (the coordinator's log, each participant's record) and loses the rest, including what was in
 * flight to the process (NATS core drops messages for a client that is gone). Timeouts may fire
 * at any moment: 2PC's safety must not depend on them.
 *
 * Checked: the outcome is one (no participant commits while another aborts, and none aborts once
 * the coordinator logged commit): monitor process. Once failures stop, the transaction
 * terminates: ltl `terminates`, with weak fairness.
 * -DBUG: a participant that voted yes decides alone after a timeout. Spin must find the split.
 */
#ifndef CRASHES
#define CRASHES 3
#endif
#ifndef LOSSES
#define LOSSES 2
#endif
#ifndef DUPS
#define DUPS 2
#endif

/* A participant's durable record. */
#define NONE 0
#define PREPARED 1
#define COMMITTED 2
#define ABORTED 3
/* The coordinator's durable decision. */
#define L_NONE 0
#define L_COMMIT 1
#define L_ABORT 2
/* Messages in flight: a bit each. */
#define PREPARE 1
#define COMMIT 2
#define ABORT 4
#define YES(i) (1 << (i))
#define NO(i) (1 << (2 + (i)))
#define ACK(i) (1 << (4 + (i)))

byte ps[2];
byte clog = L_NONE;
bool cup = true;  /* the coordinator runs (answers status queries) */
bool cdone = false;
byte toP[2];
byte toC;
byte crashes = CRASHES;
byte losses = LOSSES;
byte dups = DUPS;

inline send_p(i, m) {
  atomic { if
  :: losses > 0 -> losses--
  :: true -> toP[i] = toP[i] | m
  fi }
}
inline send_c(m) {
  atomic { if
  :: losses > 0 -> losses--
  :: true -> toC = toC | m
  fi }
}
/* Delivery takes the message out of the network, or leaves a copy (a later duplicate). */
inline take_p(i, m) {
  if
  :: dups > 0 -> dups--
  :: true -> toP[i] = toP[i] & ~m
  fi
}
inline take_c(m) {
  if
  :: dups > 0 -> dups--
  :: true -> toC = toC & ~m
  fi
}

#define SPLIT ((ps[0] == ABORTED || ps[1] == ABORTED) && \
               (ps[0] == COMMITTED || ps[1] == COMMITTED || clog == L_COMMIT))

active proctype Monitor() {
end: atomic { SPLIT -> assert(false) }
}

ltl terminates { <> (cdone && ps[0] >= COMMITTED && ps[1] >= COMMITTED) }

active proctype Coordinator() {
  byte i, yes, acked;
  /* The creation record is not forced: the prepares may leave first (presumed abort covers a
     crash before it reaches the disk). */
  for (i : 0 .. 1) {
    send_p(i, PREPARE);
    if
    :: atomic { crashes > 0 -> crashes-- }; goto crashed
    :: true
    fi
  }
  do
  :: atomic { toC & YES(0) -> take_c(YES(0)); yes = yes | 1 }
  :: atomic { toC & YES(1) -> take_c(YES(1)); yes = yes | 2 }
  :: yes == 3 -> clog = L_COMMIT; break  /* forced before any commit is sent */
  :: atomic { toC & (NO(0) | NO(1)) -> toC = toC & ~(NO(0) | NO(1)); clog = L_ABORT; break }
  :: yes != 3 -> clog = L_ABORT; break  /* the vote deadline, at any moment */
  :: atomic { crashes > 0 -> crashes-- }; goto crashed
  od;
phase2:
  acked = 0;
  for (i : 0 .. 1) {
    send_p(i, (clog == L_COMMIT -> COMMIT : ABORT));
    if
    :: atomic { crashes > 0 -> crashes-- }; goto crashed
    :: true
    fi
  }
  do
  :: atomic { toC & ACK(0) -> take_c(ACK(0)); acked = acked | 1 }
  :: atomic { toC & ACK(1) -> take_c(ACK(1)); acked = acked | 2 }
  :: acked == 3 -> cdone = true; break
  :: atomic { toC & (YES(0) | YES(1) | NO(0) | NO(1)) -> toC = toC & (ACK(0) | ACK(1)) }
  /* Phase two is re-sent to a branch until it acknowledges: whenever nothing of the exchange
     is in flight any more. */
  :: atomic { (acked & 1) == 0 && (toP[0] & (COMMIT | ABORT)) == 0 && (toC & ACK(0)) == 0 ->
              send_p(0, (clog == L_COMMIT -> COMMIT : ABORT)) }
  :: atomic { (acked & 2) == 0 && (toP[1] & (COMMIT | ABORT)) == 0 && (toC & ACK(1)) == 0 ->
              send_p(1, (clog == L_COMMIT -> COMMIT : ABORT)) }
  :: atomic { crashes > 0 -> crashes-- }; goto crashed
  od;
end_finished:  /* late votes and duplicate acknowledgements still arrive; they are dropped */
  do
  :: atomic { toC -> toC = 0 }
  od;
crashed:
  atomic { cup = false; toC = 0; yes = 0 }
  /* Recovery: anything without a commit decision is aborted (presumed abort). */
  atomic {
    if
    :: clog == L_NONE -> clog = L_ABORT
    :: else
    fi;
    cup = true
  }
  goto phase2
}

proctype Participant(byte id) {
end:
  do
  :: atomic { toP[id] & PREPARE -> take_p(id, PREPARE);
       if
       :: ps[id] == NONE ->
          if
          :: ps[id] = PREPARED; send_c(YES(id))  /* the yes vote is forced before it is sent */
          :: ps[id] = ABORTED; send_c(NO(id))
          fi
       :: ps[id] == PREPARED || ps[id] == COMMITTED -> send_c(YES(id))  /* a duplicate */
       :: ps[id] == ABORTED -> send_c(NO(id))  /* a late prepare after an abort: refused */
       fi }
  :: atomic { toP[id] & COMMIT -> take_p(id, COMMIT);
       assert(ps[id] == PREPARED || ps[id] == COMMITTED);  /* commit only follows a yes vote */
       ps[id] = COMMITTED; send_c(ACK(id)) }
  :: atomic { toP[id] & ABORT -> take_p(id, ABORT);
       ps[id] = ABORTED; send_c(ACK(id)) }  /* also a null rollback */
  /* In doubt: ask the coordinator, which answers from its log while it runs ("pending" while
     undecided, and that answer changes nothing). */
  :: atomic { ps[id] == PREPARED && cup && clog == L_COMMIT -> ps[id] = COMMITTED }
  :: atomic { ps[id] == PREPARED && cup && clog == L_ABORT -> ps[id] = ABORTED }
#ifdef BUG
  :: atomic { ps[id] == PREPARED -> ps[id] = ABORTED }  /* deciding alone after a timeout */
#endif
  :: atomic { crashes > 0 -> crashes--; toP[id] = 0 }
  od
}

init {
  atomic { run Participant(0); run Participant(1) }
}
