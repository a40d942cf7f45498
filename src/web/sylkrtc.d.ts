export function md5(text: any): string;
export class Connection extends EventTarget {
    /**
     * @param {string} url the gateway's WebSocket, `wss://host:10888/webrtcgateway/ws`
     * @param {{pingInterval?: number, reconnect?: boolean, rtcConfiguration?: RTCConfiguration | null}} [options]
     */
    constructor(url: string, { pingInterval, reconnect, rtcConfiguration }?: {
        pingInterval?: number;
        reconnect?: boolean;
        rtcConfiguration?: RTCConfiguration | null;
    });
    url: string;
    httpBase: string;
    pingInterval: number;
    reconnect: boolean;
    state: string;
    pending: Map<any, any>;
    accounts: Map<any, any>;
    rooms: Map<any, any>;
    calls: Map<any, any>;
    attempt: number;
    rtcConfiguration: RTCConfiguration;
    _resolveReady: (value: any) => void;
    ready: Promise<any>;
    _setState(state: any): void;
    _open(): void;
    ws: WebSocket;
    _message(m: any): void;
    pinger: number;
    /**
     * Sends one sylkRTC-2 request (a transaction id is added); resolves with its `ack`, rejects
     * with the `error` text.
     * @param {Record<string, unknown>} req
     * @returns {Promise<Record<string, unknown>>}
     */
    request(req: Record<string, unknown>): Promise<Record<string, unknown>>;
    /**
     * Adds an account to the connection (`account-add`); the password's HA1 is made here.
     * @param {{account: string, password: string, displayName?: string, realm?: string}} options
     * @returns {Promise<Account>}
     */
    addAccount({ account, password, displayName, realm }: {
        account: string;
        password: string;
        displayName?: string;
        realm?: string;
    }): Promise<Account>;
    close(): void;
    closing: boolean;
}
export class Account extends EventTarget {
    constructor(conn: any, id: any, ha1: any, displayName: any);
    conn: any;
    id: any;
    ha1: any;
    displayName: any;
    registration: any;
    _add(): any;
    _readd(): Promise<void>;
    _registration(state: any, reason: any): void;
    /**
     * Registers the account at its SIP service ('registration' events follow).
     * @returns {Promise<void>}
     */
    register(): Promise<void>;
    wantRegistered: boolean;
    _event(m: any): void;
    syncWaiters: any;
    bookWaiters: any;
    /**
     * The account's addressbook as the gateway keeps it: `{contacts, groups, policies}`.
     * @returns {Promise<{contacts: Array<any>, groups: Array<any>, policies: Array<any>}>}
     */
    fetchAddressbook(): Promise<{
        contacts: Array<any>;
        groups: Array<any>;
        policies: Array<any>;
    }>;
    /**
     * Adds, updates or deletes one addressbook entry; resolves with the entry once the gateway
     * stored it (every connection of the account then gets an 'addressbook' event), rejects
     * with the gateway's reason otherwise.
     * @param {'add'|'update'|'delete'} action
     * @param {'contact'|'group'|'policy'} type
     * @param {object} data a Contact `{id, name, uris: [{id, uri, type?}], dialog: {policy,
     *   subscribe}, presence: {policy, subscribe}}`, a Group `{id, name, contacts: [ids]}` or a
     *   Policy
     * @returns {Promise<any>}
     */
    updateAddressbook(action: "add" | "update" | "delete", type: "contact" | "group" | "policy", data: object): Promise<any>;
    bookUpdates: any;
    /**
     * Sends a message to `uri`; resolves with its message id.
     * @param {string} uri
     * @param {string} content
     * @param {string} [contentType]
     * @returns {Promise<string>}
     */
    sendMessage(uri: string, content: string, contentType?: string): Promise<string>;
    /**
     * Tells `uri` that the user is typing (`active`, for `refresh` seconds) or stopped (`idle`):
     * an RFC 3994 is-composing message, which the gateway forwards and does not keep.
     * @param {string} uri
     * @param {'active'|'idle'} [state]
     * @param {number} [refresh]
     * @returns {Promise<any>}
     */
    sendComposing(uri: string, state?: "active" | "idle", refresh?: number): Promise<any>;
    /**
     * Sends `file` to `uri` (1:1 file transfer): uploads it to the gateway, which tells both
     * sides with an `application/sylk-file-transfer` message (`message` at the receiver, `sync`
     * add at the sender). Resolves with the transfer id.
     * @param {string} uri
     * @param {File} file
     * @param {(fraction: number) => void} [onProgress] called as the upload goes, 0 to 1
     * @returns {Promise<string>}
     */
    sendFile(uri: string, file: File, onProgress?: (fraction: number) => void): Promise<string>;
    /**
     * Deletes one message of the conversation with `contact`, on every device of the account
     * (they get a `sync` {type: message, action: remove}).
     * @param {string} contact
     * @param {string} messageId
     * @returns {Promise<any>}
     */
    removeMessage(contact: string, messageId: string): Promise<any>;
    /**
     * Deletes the whole conversation with `contact`, on every device of the account.
     * @param {string} contact
     * @returns {Promise<any>}
     */
    removeConversation(contact: string): Promise<any>;
    sendDisposition(uri: any, messageId: any, timestamp: any, state: any): any;
    markRead(contact: any): any;
    sync(messageId?: any): Promise<any>;
    /**
     * Calls `uri` (a SIP address) with `stream`.
     * @param {string} uri
     * @param {MediaStream} stream
     * @returns {Promise<Call>}
     */
    call(uri: string, stream: MediaStream): Promise<Call>;
    /**
     * Joins `roomUri` publishing `stream`; resolves once the gateway accepted the session.
     * @param {string} roomUri the room, `name@domain`
     * @param {MediaStream} stream camera and/or microphone
     * @param {{simulcast?: boolean}} [options] simulcast: the camera in up to three layers
     *   (quarter, half and full resolution; the browser sends those its camera allows), so that
     *   the gateway can give each subscriber the one it has room for. On by default.
     * @returns {Promise<Room>}
     */
    joinRoom(roomUri: string, stream: MediaStream, { simulcast }?: {
        simulcast?: boolean;
    }): Promise<Room>;
}
export class Call extends EventTarget {
    constructor(account: any, id: any, remote: any, direction: any, offer: any);
    account: any;
    conn: any;
    id: any;
    remote: any;
    direction: any;
    offer: any;
    state: string;
    remoteStream: MediaStream;
    held: boolean;
    _pc(stream: any): () => void;
    pc: RTCPeerConnection;
    stream: any;
    _emit(state: any, reason: any): void;
    _dial(uri: any, stream: any): Promise<void>;
    /**
     * Answers an incoming call with `stream`.
     * @param {MediaStream} stream
     * @returns {Promise<void>}
     */
    answer(stream: MediaStream): Promise<void>;
    /** Hangs up (or declines an incoming call). */
    terminate(): any;
    /**
     * @param {boolean} on hold (true) or resume (false), by re-INVITE
     * @returns {Promise<void>}
     */
    hold(on: boolean): Promise<void>;
    /**
     * @param {MediaStream} stream its video tracks are added to the call
     * @returns {Promise<void>}
     */
    addVideo(stream: MediaStream): Promise<void>;
    /**
     * Shares the screen in a video call: the screen (`stream`, or one asked for with
     * getDisplayMedia) replaces the camera on the call's video, until `stopScreen()` or the
     * browser's own "stop sharing".
     * @param {MediaStream} [stream]
     * @returns {Promise<MediaStream>} the screen
     */
    shareScreen(stream?: MediaStream): Promise<MediaStream>;
    cameraTrack: MediaStreamTrack;
    screen: MediaStream;
    /**
     * Puts the camera back on the call's video after `shareScreen()`.
     * @returns {Promise<void>}
     */
    stopScreen(): Promise<void>;
    /**
     * @param {MediaStream} [stream] its video goes on the video lines the far end added
     * @returns {Promise<void>}
     */
    answerUpdate(stream?: MediaStream): Promise<void>;
    pendingUpdate: any;
    /**
     * @param {string} tones DTMF digits, sent as SIP INFO
     */
    dtmf(tones: string): any;
    mute(on: any): void;
    camera(on: any): void;
    _event(m: any): Promise<void>;
    /**
     * The call's audio statistics: packets and bytes each way, packets lost, jitter and
     * round-trip time (seconds; rtt null until the far end reported), the codec received.
     * @returns {Promise<{packetsReceived: number, packetsSent: number, packetsLost: number, jitter: number, bytesReceived: number, bytesSent: number, rtt: number | null, codec: string | null}>}
     */
    stats(): Promise<{
        packetsReceived: number;
        packetsSent: number;
        packetsLost: number;
        jitter: number;
        bytesReceived: number;
        bytesSent: number;
        rtt: number | null;
        codec: string | null;
    }>;
}
export class Room extends EventTarget {
    constructor(account: any, uri: any, stream: any, { simulcast }?: {
        simulcast?: boolean;
    });
    account: any;
    conn: any;
    uri: any;
    stream: any;
    simulcast: boolean;
    id: `${string}-${string}-${string}-${string}-${string}`;
    state: any;
    participants: Map<any, any>;
    hands: any[];
    messages: any[];
    active: any[];
    files: any[];
    _trickler(session: any, method: any): {
        push: (c: any) => any;
        release: () => void;
    };
    _join(): Promise<void>;
    pc: RTCPeerConnection;
    _emit(name: any, detail: any): void;
    _event(m: any): Promise<void>;
    _attach(p: any): void;
    _feedAttached(m: any): Promise<void>;
    sendMessage(content: any): any;
    toggleHand(): any;
    muteEveryone(): any;
    shareFile(file: any, name?: any): Promise<void>;
    fileUrl(name: any): string;
    configure(activeParticipants: any): any;
    update(sessionOrFeed: any, options: any): any;
    invite(uris: any): any;
    /**
     * Shares the screen (or a window) into the room: a second publisher session of the same
     * account, without simulcast. Resolves with that session's `Room`; `leave()` it (or end the
     * capture in the browser) to stop.
     * @param {MediaStream} [stream] a capture already made; else `getDisplayMedia` is asked
     * @returns {Promise<Room>}
     */
    shareScreen(stream?: MediaStream): Promise<Room>;
    leave(): Promise<void>;
}
