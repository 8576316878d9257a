/*
 * txc's three-phase commit (docs/protocol.md): the coordinator and 2 participants, with the
 * SDK's termination protocol (participant-sdk/src/termination_rule.h, in_doubt_resolver.cpp).
 *
 * Failure model, as the docs state it: processes crash at any step and restart (CRASHES in all);
 * messages are delayed, reordered and duplicated (DUPS), but not lost; timeouts are reliable:
 * they fire only once the awaited reply can no longer come. A participant learns that
 * the coordinator is down when NATS reports no responders for its status subject: here, while
 * the coordinator process is between its crash and its restart.
 *
 * Checked: one outcome (no participant commits while another aborts, and none aborts once the
 * coordinator logged commit): monitor process. Once failures stop, the transaction terminates:
 * ltl `terminates`, with weak fairness.
 *
 * Variants that must FAIL (model/check.sh expects a counterexample from each):
 *   -DLOSSES=1         messages may be lost: the coordinator's pre-commit timeout is no longer
 *                      proof that a participant crashed.
 *   -DPARTITION        the coordinator is cut off for a while: participants see it as down, it
 *                      sees them as silent. The known limit of 3PC.
 *   -DNAIVE_TIMEOUT    "uncertain -> abort, pre-committed -> commit" on a timeout, no termination
 *                      protocol: splits outcomes with crashes alone.
 *   -DUNGUARDED_ABORT  the termination protocol's abort is carried out even if the branch was
 *                      pre-committed since the peers' states were read.
 *   -DNO_RESTART_RULE  a participant restarted in doubt applies "all uncertain -> abort" too.
 */
#ifndef CRASHES
#define CRASHES 2
#endif
#ifndef LOSSES
#define LOSSES 0
#endif
#ifndef DUPS
#define DUPS 1
#endif
#if defined(PARTITION) || LOSSES > 0
#define UNRELIABLE_TIMEOUTS
#endif

/* A participant's durable record. */
#define NONE 0
#define UNCERTAIN 1 /* voted yes */
#define PRE 2       /* pre-committed */
#define COMMITTED 3
#define ABORTED 4
/* The coordinator's durable log. */
#define L_NONE 0
#define L_PRE 1 /* the pre-commit decision */
#define L_COMMIT 2
#define L_ABORT 3
/* Messages in flight: a bit each. To participant i: */
#define CANCOMMIT 1
#define PRECOMMIT 2
#define DOCOMMIT 4
#define ABORT 8
#define PEER_PRECOMMIT 16 /* from the other participant's termination protocol */
/* To the coordinator, from participant i: */
#define YES(i) (1 << (i))
#define NO(i) (1 << (2 + (i)))
#define PACK(i) (1 << (4 + (i)))  /* pre_commit acknowledged */
#define PREF(i) (1 << (6 + (i)))  /* pre_commit refused: the branch aborted */
#define ACK(i) (1 << (8 + (i)))   /* do_commit or abort acknowledged */

byte ps[2];
bool rs[2];    /* restarted in doubt: its record predates the participant's current run */
bool tack[2];  /* participant i's pre_commit of its peer was acknowledged */
byte clog = L_NONE;
bool cup = true;
bool cut = false; /* PARTITION: the coordinator is cut off from both participants */
bool cdone = false;
byte toP[2];
short toC;
byte crashes = CRASHES;
byte losses = LOSSES;
byte dups = DUPS;
#ifdef PARTITION
byte cuts = 1;
#endif

#define REACHABLE (cup && !cut)
/* Nothing of an exchange with participant i is in flight any more: its reply will never come.
   (A `timeout` would be disabled as long as any process may still crash.) */
#define GONE(i, out, back) ((toP[i] & (out)) == 0 && (toC & (back)) == 0)

inline send_p(i, m) {
  atomic {
    if
    :: losses > 0 -> losses--
    :: cut -> skip
    :: !cut -> toP[i] = toP[i] | m
    fi
  }
}
inline send_c(m) {
  atomic {
    if
    :: losses > 0 -> losses--
    :: cut -> skip
    :: !cut -> toC = toC | m
    fi
  }
}
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
/* Every change of a record is a write in this run: it is no longer "restarted in doubt". */
inline set(i, s) { ps[i] = s; rs[i] = false }

#define SPLIT ((ps[0] == ABORTED || ps[1] == ABORTED) && \
               (ps[0] == COMMITTED || ps[1] == COMMITTED || clog == L_COMMIT))

active proctype Monitor() {
end: atomic { SPLIT -> assert(false) }
}

ltl terminates { <> (cdone && ps[0] >= COMMITTED && ps[1] >= COMMITTED) }

#define CRASH_POINT \
  if \
  :: atomic { crashes > 0 -> crashes-- }; goto crashed \
  :: true \
  fi

active proctype Coordinator() {
  byte i, yes, acked, m;
  bool recovered = false;
  for (i : 0 .. 1) { send_p(i, CANCOMMIT); CRASH_POINT }
  do
  :: atomic { toC & YES(0) -> take_c(YES(0)); yes = yes | 1 }
  :: atomic { toC & YES(1) -> take_c(YES(1)); yes = yes | 2 }
  :: yes == 3 -> clog = L_PRE; break  /* forced before any pre_commit is sent */
  :: atomic { toC & (NO(0) | NO(1)) -> toC = toC & ~(NO(0) | NO(1)); clog = L_ABORT; goto decided }
  :: yes != 3 -> clog = L_ABORT; goto decided  /* a vote's deadline: abort is safe at any moment */
  :: atomic { crashes > 0 -> crashes-- }; goto crashed
  od;
precommit:  /* (a label on `for` itself would skip its initialisation) */
  skip;
  for (i : 0 .. 1) {
    if
    :: (acked & (1 << i)) == 0 -> send_p(i, PRECOMMIT)
    :: else
    fi;
    CRASH_POINT
  }
  do
  :: atomic { toC & PACK(0) -> take_c(PACK(0)); acked = acked | 1 }
  :: atomic { toC & PACK(1) -> take_c(PACK(1)); acked = acked | 2 }
  :: acked == 3 -> clog = L_COMMIT; goto decided  /* forced before any do_commit */
  :: atomic { toC & (PREF(0) | PREF(1)) -> toC = toC & ~(PREF(0) | PREF(1)); clog = L_ABORT;
              goto decided }  /* the participants terminated with abort while we were down */
  :: atomic { toC & (YES(0) | YES(1) | NO(0) | NO(1)) -> toC = toC & ~(YES(0) | YES(1) | NO(0) | NO(1)) }
#ifdef UNRELIABLE_TIMEOUTS
  :: !recovered && acked != 3 -> clog = L_COMMIT; goto decided
#else
  /* Skeen: silence -> commit. A reliable timeout: the acknowledgement will never come. */
  :: !recovered && acked != 3 && ((acked & 1) || GONE(0, PRECOMMIT, PACK(0) | PREF(0))) &&
     ((acked & 2) || GONE(1, PRECOMMIT, PACK(1) | PREF(1))) -> clog = L_COMMIT; goto decided
#endif
  /* After a restart only answers decide: re-send to a silent branch. */
  :: atomic { recovered && (acked & 1) == 0 && GONE(0, PRECOMMIT, PACK(0) | PREF(0)) ->
              send_p(0, PRECOMMIT) }
  :: atomic { recovered && (acked & 2) == 0 && GONE(1, PRECOMMIT, PACK(1) | PREF(1)) ->
              send_p(1, PRECOMMIT) }
  :: atomic { crashes > 0 -> crashes-- }; goto crashed
  od;
decided:
  acked = 0;
  m = (clog == L_COMMIT -> DOCOMMIT : ABORT);
  for (i : 0 .. 1) { send_p(i, m); CRASH_POINT }
  do
  :: atomic { toC & ACK(0) -> take_c(ACK(0)); acked = acked | 1 }
  :: atomic { toC & ACK(1) -> take_c(ACK(1)); acked = acked | 2 }
  :: acked == 3 -> cdone = true; break
  :: atomic { toC & ~(ACK(0) | ACK(1)) -> toC = toC & (ACK(0) | ACK(1)) }  /* late: dropped */
  /* Re-sent until acknowledged. */
  :: atomic { (acked & 1) == 0 && GONE(0, m, ACK(0)) -> send_p(0, m) }
  :: atomic { (acked & 2) == 0 && GONE(1, m, ACK(1)) -> send_p(1, m) }
  :: atomic { crashes > 0 -> crashes-- }; goto crashed
  od;
end_finished:
  do
  :: atomic { toC -> toC = 0 }
  od;
crashed:
  atomic { cup = false; toC = 0; yes = 0 }
  atomic {
    /* Acknowledgements of pre_commit are not forced: they survive the crash, or not. */
    if
    :: acked = 0
    :: clog == L_PRE -> skip
    fi;
    cup = true;
    if
    :: clog == L_NONE -> clog = L_ABORT; goto decided  /* presumed abort */
    :: clog == L_PRE && acked == 3 -> clog = L_COMMIT; goto decided
    :: clog == L_PRE && acked != 3 -> recovered = true; goto precommit
    :: clog == L_COMMIT || clog == L_ABORT -> goto decided
    fi
  }
}

proctype Participant(byte id) {
  byte mine, other, tphase;  /* the termination protocol's round: 0 idle, 1 asking, 2 concluding,
                                3 waiting for the peer's pre_commit acknowledgement */
end:
  do
  :: atomic { toP[id] & CANCOMMIT -> take_p(id, CANCOMMIT);
       if
       :: ps[id] == NONE ->
          if
          :: set(id, UNCERTAIN); send_c(YES(id))  /* forced before it is sent */
          :: set(id, ABORTED); send_c(NO(id))
          fi
       :: ps[id] == UNCERTAIN || ps[id] == PRE || ps[id] == COMMITTED -> send_c(YES(id))
       :: ps[id] == ABORTED -> send_c(NO(id))
       fi }
  :: atomic { toP[id] & PRECOMMIT -> take_p(id, PRECOMMIT);
       if
       :: ps[id] == NONE -> skip  /* error: never voted; the coordinator asks again */
       :: ps[id] == UNCERTAIN -> set(id, PRE); send_c(PACK(id))  /* forced before the ack */
       :: ps[id] == PRE || ps[id] == COMMITTED -> send_c(PACK(id))
       :: ps[id] == ABORTED -> send_c(PREF(id))
       fi }
  :: atomic { toP[id] & PEER_PRECOMMIT -> take_p(id, PEER_PRECOMMIT);
       if
       :: ps[id] == UNCERTAIN -> set(id, PRE); tack[1 - id] = true
       :: ps[id] == PRE || ps[id] == COMMITTED -> tack[1 - id] = true
       :: else -> skip  /* refused, or no record: the peer asks again later */
       fi }
  :: atomic { toP[id] & DOCOMMIT -> take_p(id, DOCOMMIT);
       if
       :: ps[id] != NONE && ps[id] != ABORTED -> set(id, COMMITTED); send_c(ACK(id))
       :: else -> skip  /* a violation: answered with an error */
       fi }
  :: atomic { toP[id] & ABORT -> take_p(id, ABORT);
       if
       :: ps[id] != COMMITTED -> set(id, ABORTED); send_c(ACK(id))
       :: else -> skip
       fi }
  /* In doubt, the coordinator reachable: its answer from the log ("pending" changes nothing). */
  :: atomic { (ps[id] == UNCERTAIN || ps[id] == PRE) && REACHABLE && clog == L_COMMIT ->
              set(id, COMMITTED) }
  :: atomic { (ps[id] == UNCERTAIN || ps[id] == PRE) && REACHABLE && clog == L_ABORT ->
              set(id, ABORTED) }
#ifdef NAIVE_TIMEOUT
  :: atomic { ps[id] == UNCERTAIN && !REACHABLE -> set(id, ABORTED) }
  :: atomic { ps[id] == PRE && !REACHABLE -> set(id, COMMITTED) }
#else
  /* In doubt, the coordinator down: Skeen's termination protocol. */
  :: atomic { tphase == 0 && (ps[id] == UNCERTAIN || ps[id] == PRE) && !REACHABLE ->
              mine = ps[id]; tphase = 1 }
  :: atomic { tphase == 1 -> other = ps[1 - id]; tphase = 2 }  /* the peer's answer */
  :: atomic { tphase == 2 ->
       tphase = 0;
       /* `mine` is UNCERTAIN or PRE (in doubt); the guards are exclusive, in the rule's order. */
       if
       :: other == COMMITTED ->
          if
          :: ps[id] != ABORTED -> set(id, COMMITTED)
          :: else
          fi
       :: other == ABORTED ->
          if
          :: ps[id] == mine -> set(id, ABORTED)
          :: else
          fi
       :: mine == PRE && other == NONE -> skip  /* lost data: decide nothing */
       :: (mine == PRE && (other == UNCERTAIN || other == PRE)) ||
          (mine == UNCERTAIN && other == PRE) ->
          /* pre_commit the uncertain ones, then commit */
          if
          :: mine == UNCERTAIN && ps[id] == UNCERTAIN -> set(id, PRE)
          :: mine == UNCERTAIN && ps[id] != UNCERTAIN -> goto next  /* refused or changed */
          :: else
          fi;
          if
          :: other == UNCERTAIN -> tack[id] = false; toP[1 - id] = toP[1 - id] | PEER_PRECOMMIT;
             tphase = 3
          :: else -> if
                     :: ps[id] != ABORTED -> set(id, COMMITTED)
                     :: else
                     fi
          fi
       :: mine == UNCERTAIN && (other == UNCERTAIN || other == NONE) ->
#ifndef NO_RESTART_RULE
          if
          :: rs[id] -> goto next  /* restarted in doubt: never alone */
          :: else
          fi;
#endif
#ifdef UNGUARDED_ABORT
          set(id, ABORTED)
#else
          if
          :: ps[id] == mine -> set(id, ABORTED)
          :: else
          fi
#endif
       fi;
next:  mine = 0; other = 0 }  /* forgotten between rounds */
  :: atomic { tphase == 3 && tack[id] ->  /* the peer is pre-committed: commit */
              tphase = 0; mine = 0; other = 0;
              if
              :: ps[id] != ABORTED -> set(id, COMMITTED)
              :: else
              fi }
  :: atomic { tphase == 3 -> tphase = 0; mine = 0; other = 0 }  /* no answer in time: a new round later */
#endif
  :: atomic { crashes > 0 -> crashes--; toP[id] = 0; tphase = 0; mine = 0; other = 0;
              rs[id] = (ps[id] == UNCERTAIN || ps[id] == PRE) }
  od
}

#ifdef PARTITION
active proctype Partition() {
  atomic { cuts > 0 -> cuts--; cut = true }
  cut = false
}
#endif

init {
  atomic { run Participant(0); run Participant(1) }
}
